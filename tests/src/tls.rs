//! Keys and certificate authorities made by a test, with the `openssl` command: an RSA signing
//! key, a CA, server certificates it signs, and the server options of a private MariaDB that
//! presents one of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory of keys and certificates, removed when dropped.
pub struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "users-api-certs-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A self-signed CA (RSA 2048, as RDS's default CA) named `name`.
    pub fn ca(&self, name: &str) -> TestCa {
        let key = self.path(&format!("{name}.key"));
        let certificate = self.path(&format!("{name}.pem"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=users-api test CA {name}"),
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&certificate),
        ]);
        TestCa { key, certificate }
    }

    /// A server certificate signed by `ca`, valid for the names in `subject_alt_names`
    /// (`IP:127.0.0.1`, `DNS:localhost`, ...).
    pub fn server(&self, ca: &TestCa, name: &str, subject_alt_names: &[&str]) -> ServerCert {
        let key = self.path(&format!("{name}.key"));
        let request = self.path(&format!("{name}.csr"));
        let certificate = self.path(&format!("{name}.pem"));
        let extensions = self.path(&format!("{name}.ext"));
        std::fs::write(
            &extensions,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                subject_alt_names.join(",")
            ),
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&request),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            path_str(&request),
            "-CA",
            path_str(&ca.certificate),
            "-CAkey",
            path_str(&ca.key),
            "-CAcreateserial",
            "-extfile",
            path_str(&extensions),
            "-out",
            path_str(&certificate),
        ]);
        ServerCert {
            key,
            certificate,
            ca: ca.certificate.clone(),
        }
    }
}

impl Default for CertDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct TestCa {
    key: PathBuf,
    /// The CA's certificate (PEM): what `DB_TLS_CA` names.
    pub certificate: PathBuf,
}

impl TestCa {
    pub fn certificate_path(&self) -> &str {
        path_str(&self.certificate)
    }
}

pub struct ServerCert {
    key: PathBuf,
    certificate: PathBuf,
    ca: PathBuf,
}

impl ServerCert {
    /// The options of a `mariadbd` that offers TLS with this certificate (plain TCP stays allowed
    /// unless `--require-secure-transport` is added).
    pub fn server_options(&self) -> Vec<String> {
        vec![
            format!("--ssl-ca={}", self.ca.display()),
            format!("--ssl-cert={}", self.certificate.display()),
            format!("--ssl-key={}", self.key.display()),
        ]
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("the openssl command is needed to make certificates: {error}")
        });
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new RSA private key of 2048 bits in PKCS#8 PEM: what `SIGNING_KEY` holds.
pub fn rsa_private_key_pem() -> String {
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl runs");
    assert!(output.status.success(), "openssl genpkey failed");
    String::from_utf8(output.stdout).expect("a PEM is text")
}
