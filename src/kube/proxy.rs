//! Which proxy the API server is reached through: the one Helm (client-go)
//! would use. Pure; the environment is read by [`ProxyEnv::from_env`].
//!
//! client-go takes the cluster's `proxy-url` from the kubeconfig when it is
//! set (`http`, `https` or `socks5`), and otherwise Go's
//! `http.ProxyFromEnvironment`: `HTTPS_PROXY` for an `https://` server,
//! `HTTP_PROXY` for `http://` (upper case first, then lower case), except
//! for hosts `NO_PROXY` names and, always, for `localhost` and loopback
//! addresses. kube-rs on its own would read `HTTPS_PROXY` for every server,
//! loopback included, and refuse a `NO_PROXY` with an empty entry; this
//! module decides instead, so the plugin's requests take the path Helm's take.

use std::net::IpAddr;

/// The proxy variables of the environment, as Go reads them (the upper-case
/// name first; an empty value is unset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `HTTPS_PROXY` / `https_proxy`.
    pub https: Option<String>,
    /// `HTTP_PROXY` / `http_proxy`.
    pub http: Option<String>,
    /// `NO_PROXY` / `no_proxy`.
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Read the variables from this process's environment.
    pub fn from_env() -> Self {
        let any = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        };
        Self {
            https: any(["HTTPS_PROXY", "https_proxy"]),
            http: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
        }
    }
}

/// The proxy to reach `server` (an `http(s)://host[:port]` URL) through:
/// `kubeconfig_proxy` when set, else the environment's as Go decides it.
/// `Err` names the setting that cannot be used.
pub fn proxy_for(
    server: &str,
    kubeconfig_proxy: Option<&str>,
    env: &ProxyEnv,
) -> Result<Option<String>, String> {
    if let Some(url) = kubeconfig_proxy.map(str::trim).filter(|u| !u.is_empty()) {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("proxy-url `{}` is not a URL: {e}", redact(url)))?;
        return match uri.scheme_str() {
            Some("http" | "https" | "socks5") if uri.host().is_some() => Ok(Some(url.to_string())),
            _ => Err(format!(
                "proxy-url `{}`: Helm takes only http://, https:// or socks5:// proxies",
                redact(url)
            )),
        };
    }
    let server: http::Uri = server
        .parse()
        .map_err(|e| format!("`{server}` is not a server URL: {e}"))?;
    let https = server.scheme_str() == Some("https");
    let Some(raw) = (if https { &env.https } else { &env.http }).as_deref() else {
        return Ok(None);
    };
    let host = server
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = server
        .port_u16()
        .unwrap_or(if https { 443 } else { 80 })
        .to_string();
    if !use_proxy(&host, &port, env.no_proxy.as_deref().unwrap_or_default()) {
        return Ok(None);
    }
    // Go reads a proxy without a scheme as http://.
    let url = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let var = if https { "HTTPS_PROXY" } else { "HTTP_PROXY" };
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{var} `{}` is not a URL: {e}", redact(raw)))?;
    match uri.scheme_str() {
        Some("http" | "https" | "socks5") if uri.host().is_some() => Ok(Some(url)),
        _ => Err(format!(
            "{var} `{}`: only http://, https:// and socks5:// proxies are supported",
            redact(raw)
        )),
    }
}

/// Go's `httpproxy` rule: never for localhost or a loopback address, never
/// for a host `no_proxy` matches.
fn use_proxy(host: &str, port: &str, no_proxy: &str) -> bool {
    let ip: Option<IpAddr> = host.parse().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    !no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| no_proxy_matches(&entry, host, port, ip))
}

/// One `NO_PROXY` entry: `*`, an IP or CIDR, `ip:port`, `[ipv6]:port`, or a
/// domain (`example.com` matches it and its subdomains, `.example.com` and
/// `*.example.com` only subdomains), optionally with `:port`.
fn no_proxy_matches(entry: &str, host: &str, port: &str, ip: Option<IpAddr>) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/')
        && let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u8>())
    {
        return ip.is_some_and(|ip| in_cidr(ip, net, bits));
    }
    let (entry_host, entry_port) = split_host_port(entry);
    if let Ok(entry_ip) = entry_host.parse::<IpAddr>() {
        return ip == Some(entry_ip) && entry_port.is_none_or(|p| p == port);
    }
    if entry_host.is_empty() {
        return false;
    }
    let domain = entry_host.strip_prefix('*').unwrap_or(entry_host);
    let (suffix, exact) = match domain.strip_prefix('.') {
        Some(_) => (domain.to_string(), None),
        None => (format!(".{domain}"), Some(domain)),
    };
    (host.ends_with(&suffix) || exact == Some(host)) && entry_port.is_none_or(|p| p == port)
}

/// `host:port` / `[v6]:port` / `host` (a bare IPv6 address has no port).
fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// A proxy URL for messages: the user-info (a password) removed.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://<user-info>@{host}{}", &rest[authority_end..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: &str, http: &str, no_proxy: &str) -> ProxyEnv {
        let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
        ProxyEnv {
            https: some(https),
            http: some(http),
            no_proxy: some(no_proxy),
        }
    }

    fn proxy(server: &str, kubeconfig: Option<&str>, env: &ProxyEnv) -> Option<String> {
        proxy_for(server, kubeconfig, env).unwrap()
    }

    #[test]
    fn the_kubeconfig_proxy_url_wins_even_for_loopback() {
        let e = env("http://env:3128", "", "*");
        assert_eq!(
            proxy(
                "https://127.0.0.1:6443",
                Some("socks5://127.0.0.1:1080"),
                &e
            )
            .as_deref(),
            Some("socks5://127.0.0.1:1080")
        );
        assert!(proxy_for("https://a:1", Some("ftp://p:1"), &e).is_err());
        assert!(proxy_for("https://a:1", Some("socks5h://p:1"), &e).is_err());
    }

    #[test]
    fn the_environment_by_scheme_and_never_for_loopback() {
        let e = env("http://s:3128", "http://p:3128", "");
        assert_eq!(
            proxy("https://api.example:6443", None, &e).as_deref(),
            Some("http://s:3128")
        );
        assert_eq!(
            proxy("http://api.example:8080", None, &e).as_deref(),
            Some("http://p:3128")
        );
        for local in [
            "https://127.0.0.1:6443",
            "https://127.9.9.9:1",
            "https://localhost:6443",
            "https://[::1]:6443",
        ] {
            assert_eq!(proxy(local, None, &e), None, "{local}");
        }
        // Without a scheme Go assumes http://.
        assert_eq!(
            proxy("https://api.example", None, &env("s:3128", "", "")).as_deref(),
            Some("http://s:3128")
        );
        assert_eq!(
            proxy("https://api.example", None, &ProxyEnv::default()),
            None
        );
        assert!(proxy_for("https://api.example", None, &env("gopher://s:1", "", "")).is_err());
    }

    #[test]
    fn no_proxy_entries_as_go_reads_them() {
        let skipped = |server: &str, no_proxy: &str| {
            proxy(server, None, &env("http://s:1", "http://s:1", no_proxy)).is_none()
        };
        assert!(skipped("https://api.example.com", "example.com"));
        assert!(skipped("https://example.com", "example.com"));
        assert!(skipped("https://api.example.com", ".example.com"));
        assert!(!skipped("https://example.com", ".example.com"));
        assert!(skipped("https://api.example.com", "*.example.com"));
        assert!(!skipped("https://badexample.com", "example.com"));
        assert!(skipped("https://10.1.2.3:6443", "10.0.0.0/8"));
        assert!(!skipped("https://11.1.2.3:6443", "10.0.0.0/8"));
        assert!(skipped("https://10.1.2.3:6443", "10.1.2.3"));
        assert!(skipped("https://10.1.2.3:6443", "10.1.2.3:6443"));
        assert!(!skipped("https://10.1.2.3:6443", "10.1.2.3:443"));
        assert!(skipped("https://api.example.com", "api.example.com:443"));
        assert!(skipped("https://[fd00::1]:6443", "fd00::/64"));
        assert!(skipped("https://[fd00::1]:6443", "[fd00::1]:6443"));
        assert!(skipped(
            "https://API.Example.com",
            " other.org , EXAMPLE.COM "
        ));
        // Empty entries (a trailing comma) are skipped, not an error.
        assert!(skipped(
            "https://api.example.com",
            "other.org,,example.com,"
        ));
        assert!(skipped("https://anything", "*"));
        assert!(!skipped("https://api.example.com", "other.org"));
    }

    #[test]
    fn credentials_in_a_proxy_url_are_never_shown() {
        assert_eq!(
            redact("http://user:s3cret@proxy:3128"),
            "http://<user-info>@proxy:3128"
        );
        assert_eq!(redact("http://proxy:3128/x@y"), "http://proxy:3128/x@y");
        let err = proxy_for(
            "https://a:1",
            Some("ftp://u:s3cret@p:1"),
            &ProxyEnv::default(),
        )
        .unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
