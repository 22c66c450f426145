//! Network addresses as people write them in configs and schedules: the one parser of
//! `host:port` (with IPv6 in brackets) behind both the broker URL and the relay's stream URLs.

use std::fmt;

/// An `http://` URL (a relayed radio stream), taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpUrl {
    /// Without the brackets of an IPv6 address.
    pub host: String,
    pub port: u16,
    /// Path and query, from the `/` on.
    pub path: String,
}

impl HttpUrl {
    /// Parses `http://host[:port]/path`: what the relay can fetch (no TLS, no credentials).
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("not a URL (expected http://host[:port]/path)".to_string());
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(
                "https is not supported yet: the relay has no TLS; use the station's http:// URL"
                    .to_string(),
            );
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "unsupported scheme {scheme:?} (only http:// streams can be relayed)"
            ));
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".to_string());
        }
        let (host, port) = split_host_port(authority, 80)?;
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(format!("bad host {host:?}"));
        }
        let path = match path {
            "" => "/".to_string(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_string(),
        };
        if path.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err("the path has spaces or control characters".to_string());
        }
        Ok(HttpUrl {
            host: host.to_string(),
            port,
            path,
        })
    }

    /// Where a redirect's `Location` points, from this URL.
    pub fn join(&self, location: &str) -> Result<HttpUrl, String> {
        let has_scheme = location.split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if has_scheme {
            return HttpUrl::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return HttpUrl::parse(&format!("http://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_string()
        } else {
            let directory = self.path.split('?').next().unwrap_or_default();
            let directory = &directory[..directory.rfind('/').map_or(0, |slash| slash + 1)];
            format!("{directory}{location}")
        };
        HttpUrl::parse(&format!("http://{}{path}", self.authority()))
    }

    /// `host` or `host:port`, as the Host header wants it.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// Splits `host[:port]` or `[v6 address][:port]`, with `default_port` when none is given, and
/// strips the brackets of an IPv6 address. An IPv6 address without brackets is refused: its
/// last group would be taken for a port.
pub fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let Some((host, after)) = bracketed.split_once(']') else {
                return Err(format!("bad host {authority:?}"));
            };
            match after {
                "" => (host, None),
                after => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("bad host {authority:?}")),
                },
            }
        }
        None if authority.matches(':').count() > 1 => {
            return Err(format!(
                "bad host {authority:?}: write an IPv6 address in brackets, as [::1]:1883"
            ));
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => default_port,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| format!("bad port {port:?}"))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_into_host_port_and_path() {
        let url = |text: &str| HttpUrl::parse(text).unwrap();
        assert_eq!(
            url("http://radio.test/vov1.mp3"),
            HttpUrl {
                host: "radio.test".to_string(),
                port: 80,
                path: "/vov1.mp3".to_string()
            }
        );
        assert_eq!(url("HTTP://radio.test:8000").path, "/");
        assert_eq!(url("http://radio.test:8000").port, 8000);
        assert_eq!(url("http://radio.test?s=1#top").path, "/?s=1");
        assert_eq!(url("http://[::1]:8000/a").host, "::1");
        assert_eq!(
            url("http://[::1]:8000/a").to_string(),
            "http://[::1]:8000/a"
        );
        assert_eq!(
            url("http://radio.test:80/a").to_string(),
            "http://radio.test/a"
        );
    }

    #[test]
    fn https_and_malformed_urls_are_refused_with_the_reason() {
        let refused = |text: &str| HttpUrl::parse(text).unwrap_err();
        assert!(refused("https://vov.vn/live").starts_with("https is not supported yet"));
        assert!(refused("rtsp://vov.vn/live").starts_with("unsupported scheme \"rtsp\""));
        assert!(refused("vov.vn/live").starts_with("not a URL"));
        assert_eq!(refused("http://radio.test:99999/"), "bad port \"99999\"");
        assert_eq!(refused("http:///vov1"), "bad host \"\"");
        assert!(refused("http://user:pw@radio.test/").starts_with("credentials"));
    }

    #[test]
    fn a_redirect_location_is_resolved_against_the_url_it_came_from() {
        let base = HttpUrl::parse("http://a.test:8000/live/vov1?x=1").unwrap();
        let joined = |location: &str| base.join(location).unwrap().to_string();
        assert_eq!(joined("http://b.test/vov1"), "http://b.test/vov1");
        assert_eq!(joined("//c.test:81/s"), "http://c.test:81/s");
        assert_eq!(joined("/other"), "http://a.test:8000/other");
        assert_eq!(joined("vov2.aac"), "http://a.test:8000/live/vov2.aac");
        assert_eq!(
            joined("/go?to=http://b.test/"),
            "http://a.test:8000/go?to=http://b.test/"
        );
        assert!(base.join("https://b.test/").is_err());
    }

    #[test]
    fn host_and_port_split_the_same_way_for_names_v4_and_bracketed_v6() {
        assert_eq!(
            split_host_port("broker.local", 1883),
            Ok(("broker.local", 1883))
        );
        assert_eq!(
            split_host_port("10.0.0.1:8883", 1883),
            Ok(("10.0.0.1", 8883))
        );
        assert_eq!(
            split_host_port("[fd00::1]:8883", 1883),
            Ok(("fd00::1", 8883))
        );
        assert_eq!(split_host_port("[fd00::1]", 1883), Ok(("fd00::1", 1883)));
        assert!(
            split_host_port("fd00::1", 1883)
                .unwrap_err()
                .contains("in brackets")
        );
        assert!(split_host_port("[fd00::1", 1883).is_err());
        assert!(split_host_port("host:0", 1883).is_err());
    }
}
