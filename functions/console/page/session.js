// The signed-in session, held in this module's memory only: never in a cookie, never in local
// or session storage, so closing or reloading the tab forgets it. The access token is renewed
// with the refresh token before it expires.

import { call, ApiError } from "./api.js";

let grant = null;
let renewal = null;
let renewing = null;
let onEnded = () => {};

/** What to do when the session ends without the admin signing out (a refused renewal). */
export function whenEnded(callback) {
  onEnded = callback;
}

export function current() {
  return grant;
}

/** The seconds before expiry at which the token is renewed: a minute, or a quarter of short lives. */
function renewDelay(ttl) {
  const seconds = ttl > 240 ? ttl - 60 : ttl * 0.75;
  return Math.max(5, seconds) * 1000;
}

function start(newGrant) {
  grant = newGrant;
  window.clearTimeout(renewal);
  renewal = window.setTimeout(() => {
    renew().catch(() => {});
  }, renewDelay(Number(newGrant.ttl) || 60));
  return grant;
}

function end() {
  window.clearTimeout(renewal);
  renewal = null;
  grant = null;
}

/**
 * Step one of signing in. Resolves with `{grant}` when signed in, or with `{mfaToken}` when the
 * account asks for its second factor.
 */
export async function signIn(cellnumber, password) {
  const answer = await call("POST", "api/users/login", { body: { cellnumber, password } });
  if (answer && answer.mfaRequired) return { mfaToken: answer.mfaToken };
  return { grant: start(answer) };
}

/** Step two: a 6-digit code from the authenticator app, or else a recovery code. */
export async function verifySecondFactor(mfaToken, code) {
  const trimmed = code.trim();
  const body = /^[0-9]{6}$/.test(trimmed)
    ? { mfaToken, code: trimmed }
    : { mfaToken, recoveryCode: trimmed };
  return start(await call("POST", "api/users/login/mfa", { body }));
}

/** Trades the refresh token for a new grant (once at a time; callers share one renewal). */
export function renew() {
  if (!grant) return Promise.reject(new ApiError(401, "Not signed in", null));
  if (!renewing) {
    const refreshToken = grant.refreshToken;
    renewing = call("POST", "api/users/token/refresh", { body: { refreshToken } })
      .then((answer) => start(answer))
      .catch((error) => {
        if (error.status === 401 || error.status === 403) {
          end();
          onEnded("Your session has ended. Sign in again.");
        }
        throw error;
      })
      .finally(() => {
        renewing = null;
      });
  }
  return renewing;
}

/** A call of the API as the signed-in user; a 401 renews the token once and tries again. */
export async function api(method, path, options = {}) {
  if (renewing) await renewing.catch(() => {});
  if (!grant) throw new ApiError(401, "Not signed in", null);
  try {
    return await call(method, path, { ...options, token: grant.token });
  } catch (error) {
    if (error.status !== 401 || !grant) throw error;
    await renew();
    return call(method, path, { ...options, token: grant.token });
  }
}

/** Ends this session at the API and forgets it here, whatever the API answers. */
export async function signOut(scope = "local") {
  if (!grant) return;
  const token = grant.token;
  end();
  try {
    await call("POST", "api/users/logout", { token, query: { scope } });
  } catch {
    // Forgotten here either way; the token expires on its own.
  }
}
