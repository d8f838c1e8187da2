//! Real TLS: a loopback HTTPS server whose certificates come from a test CA made at test time.
//! Verification is always on; there is no switch to turn it off.

mod support;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};
use support::capi::{chat_with, Answer};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use ylokh::ffi::client::ylokh_client_new;
use ylokh::ffi::options::{
    ylokh_options_add_ca_file, ylokh_options_new_compatible, ylokh_options_set_max_retries,
};
use ylokh::ffi::status::*;

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn test_ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "libylokh test CA");
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A TLS server config with a certificate for `names`, signed by `ca`; expired if asked.
fn server_config(ca: &Ca, names: &[&str], expired: bool) -> ServerConfig {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap()
}

/// Streams from `https://localhost:PORT/stream/v1`, trusting `ca_pem` if given.
fn stream(port: u16, ca_pem: Option<&str>) -> Answer {
    let url = std::ffi::CString::new(format!("https://localhost:{port}/stream/v1")).unwrap();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
        if let Some(pem) = ca_pem {
            let path = support::tmp_path(&format!("ca-{port}.pem"));
            std::fs::write(&path, pem).unwrap();
            let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            assert_eq!(ylokh_options_add_ca_file(opts, path.as_ptr()), YLOKH_OK);
        }
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh::ffi::options::ylokh_options_free(opts);
        let client = support::capi::Client::from_raw(client);
        chat_with(&client, "{}", true, None, || {})
    }
}

#[test]
fn streaming_over_tls_works_with_the_test_ca_and_only_with_it() {
    let ca = test_ca();
    let server = support::start_tls_server(server_config(&ca, &["localhost"], false));
    let trusted = stream(server.port, Some(&ca.cert.pem()));
    assert_eq!(trusted.status, YLOKH_OK, "{trusted:?}");
    assert_eq!(trusted.text, support::expected_text());

    let untrusted = stream(server.port, None);
    assert_eq!(untrusted.status, YLOKH_TLS, "{untrusted:?}");
    assert!(
        untrusted.message.contains("ylokh_options_add_ca_file"),
        "{}",
        untrusted.message
    );
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let ca = test_ca();
    let server = support::start_tls_server(server_config(&ca, &["other.example"], false));
    let answer = stream(server.port, Some(&ca.cert.pem()));
    assert_eq!(answer.status, YLOKH_TLS, "{answer:?}");
    assert!(
        answer.message.to_lowercase().contains("not valid for name")
            || answer.message.contains("NotValidForName"),
        "{}",
        answer.message
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let ca = test_ca();
    let server = support::start_tls_server(server_config(&ca, &["localhost"], true));
    let answer = stream(server.port, Some(&ca.cert.pem()));
    assert_eq!(answer.status, YLOKH_TLS, "{answer:?}");
    assert!(
        answer.message.to_lowercase().contains("expired"),
        "{}",
        answer.message
    );
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_at_once() {
    let path = support::tmp_path("not-a-ca.pem");
    std::fs::write(&path, "hello").unwrap();
    let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let url = std::ffi::CString::new("https://localhost:1/v1").unwrap();
    unsafe {
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert_eq!(
            ylokh_options_add_ca_file(opts, path.as_ptr()),
            YLOKH_INVALID_ARGUMENT
        );
        ylokh::ffi::options::ylokh_options_free(opts);
    }
}
