"""A third-party verifier: PyJWT given nothing but the API's discovery URL and the audience.

usage: verify.py DISCOVERY_URL AUDIENCE TOKEN
Prints the verified claims as JSON and exits 0, or prints why the token was refused and exits 1.
"""

import json
import sys
import urllib.request

import jwt


def main() -> int:
    discovery_url, audience, token = sys.argv[1:4]
    with urllib.request.urlopen(discovery_url, timeout=60) as response:
        discovery = json.load(response)
    keys = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False, timeout=60)
    try:
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=discovery["id_token_signing_alg_values_supported"],
            audience=audience,
            issuer=discovery["issuer"],
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        print(f"refused: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
