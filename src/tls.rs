//! TLS set-up shared by everything that makes HTTPS requests (delivery, `trigger`, the
//! inspector's replay): installing rustls' crypto provider. A leaf module.

/// Install rustls' ring crypto provider as the process default. Idempotent; call it before
/// building any TLS client (pbxsim's delivery does so itself).
pub fn init_tls() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
