//! Real proxies on loopback: Debian's tinyproxy (HTTP) and microsocks (SOCKS5, with and without
//! a user and password), started by the tests (`.ci/run` installs them when missing), in front
//! of the scripted test server.

mod support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::capi::{chat_with, Answer, Client};
use ylokh::ffi::status::*;

/// A proxy process, killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the proxy did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(program: &str, args: &[&str], port: u16) -> Proxy {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start {program} ({e}); install it: apt-get install tinyproxy microsocks"
            )
        });
    wait_listening(port);
    Proxy { child, port }
}

fn tinyproxy() -> Proxy {
    let port = free_port();
    let config = support::tmp_path(&format!("tinyproxy-{port}.conf"));
    std::fs::write(&config, format!("Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nMaxClients 20\nLogLevel Critical\n")).unwrap();
    spawn("tinyproxy", &["-d", "-c", config.to_str().unwrap()], port)
}

fn microsocks(credentials: Option<(&str, &str)>) -> Proxy {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec!["-i", "127.0.0.1", "-p", &port_text];
    if let Some((user, password)) = credentials {
        args.extend(["-u", user, "-P", password]);
    }
    spawn("microsocks", &args, port)
}

/// microsocks in a mount namespace of its own whose /etc/hosts knows a name that this process
/// cannot resolve: a request for that name succeeds only when the proxy resolves it.
fn microsocks_with_private_name(name: &str) -> Proxy {
    let port = free_port();
    let hosts = support::tmp_path(&format!("hosts-{port}"));
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n127.0.0.1 {name}\n")).unwrap();
    let script = format!(
        "mount --bind {} /etc/hosts && exec microsocks -i 127.0.0.1 -p {port}",
        hosts.display()
    );
    spawn("unshare", &["--mount", "sh", "-c", &script], port)
}

fn stream(base_url: &str, proxy: &str) -> Answer {
    chat_with(&Client::new(base_url, Some(proxy)), "{}", true, None, || {})
}

#[test]
#[ignore = "needs tinyproxy: run tests/run.sh"]
fn http_proxy_tinyproxy_gives_the_exact_text() {
    let server = support::start_server();
    let proxy = tinyproxy();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let answer = stream(&format!("{}/stream/v1", server.url()), &proxy_url);
    assert_eq!(answer.status, YLOKH_OK, "{answer:?}");
    assert_eq!(answer.text, support::expected_text());
    // The request really went through tinyproxy: it adds its Via header.
    let echo = chat_with(
        &Client::new(&format!("{}/echo/v1", server.url()), Some(&proxy_url)),
        "{}",
        false,
        None,
        || {},
    );
    assert!(
        echo.text.contains("(tinyproxy/"),
        "no Via header from tinyproxy:\n{}",
        echo.text
    );
}

#[test]
#[ignore = "needs microsocks: run tests/run.sh"]
fn socks5_proxy_microsocks_gives_the_exact_text() {
    let server = support::start_server();
    let proxy = microsocks(None);
    let (base, proxy_url) = (
        format!("{}/stream/v1", server.url()),
        format!("socks5://127.0.0.1:{}", proxy.port),
    );
    let answer = stream(&base, &proxy_url);
    assert_eq!(answer.status, YLOKH_OK, "{answer:?}");
    assert_eq!(answer.text, support::expected_text());
    // The request really went through the proxy: without it, the same settings fail.
    drop(proxy);
    assert_eq!(stream(&base, &proxy_url).status, YLOKH_CONNECT);
}

#[test]
#[ignore = "needs microsocks: run tests/run.sh"]
fn socks5_with_credentials_and_with_wrong_ones() {
    let server = support::start_server();
    let proxy = microsocks(Some(("ylokh", "s3cret")));
    let base = format!("{}/stream/v1", server.url());
    let good = stream(
        &base,
        &format!("socks5://ylokh:s3cret@127.0.0.1:{}", proxy.port),
    );
    assert_eq!(good.status, YLOKH_OK, "{good:?}");
    assert_eq!(good.text, support::expected_text());

    let bad = stream(
        &base,
        &format!("socks5://ylokh:wrong-pass@127.0.0.1:{}", proxy.port),
    );
    assert_eq!(bad.status, YLOKH_CONNECT, "{bad:?}");
    assert!(
        bad.message
            .contains(&format!("through proxy socks5://127.0.0.1:{}", proxy.port)),
        "{}",
        bad.message
    );
    assert!(bad.message.contains("credentials"), "{}", bad.message);
    assert!(
        !bad.message.contains("wrong-pass"),
        "the proxy password must not be in the message: {}",
        bad.message
    );
}

#[test]
#[ignore = "needs microsocks: run tests/run.sh"]
fn socks5h_resolves_names_at_the_proxy() {
    let name = "ylokh-proxy-only.test";
    assert!(
        std::net::ToSocketAddrs::to_socket_addrs(&(name, 80)).is_err(),
        "{name} must not resolve here"
    );
    let server = support::start_server();
    let proxy = microsocks_with_private_name(name);
    let base = format!("http://{name}:{}/stream/v1", server.port);
    let remote = stream(&base, &format!("socks5h://127.0.0.1:{}", proxy.port));
    assert_eq!(remote.status, YLOKH_OK, "socks5h: {remote:?}");
    assert_eq!(remote.text, support::expected_text());
    // With socks5 the client resolves the name itself, and cannot.
    let local = stream(&base, &format!("socks5://127.0.0.1:{}", proxy.port));
    assert_eq!(local.status, YLOKH_CONNECT, "socks5: {local:?}");
}

#[test]
fn a_proxy_that_is_down_is_named_in_the_message() {
    let server = support::start_server();
    let port = free_port();
    for scheme in ["http", "socks5", "socks5h"] {
        let answer = stream(
            &format!("{}/stream/v1", server.url()),
            &format!("{scheme}://127.0.0.1:{port}"),
        );
        assert_eq!(answer.status, YLOKH_CONNECT, "{scheme}: {answer:?}");
        assert!(
            answer
                .message
                .contains(&format!("through proxy {scheme}://127.0.0.1:{port}")),
            "{}",
            answer.message
        );
    }
}
