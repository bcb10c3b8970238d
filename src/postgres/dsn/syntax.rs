//! The two spellings of a connection string: `postgres://` URLs and libpq `key=value` strings,
//! parsed into (key, value) pairs. Errors never quote text that could be part of a password.

use super::keys::is_known;

/// How to write reserved characters in a URL's password, for errors that hint at them.
const RESERVED: &str =
    "if a password holds '/', '?', '#', '@' or ':', percent-encode them (%2F, %3F, %23, %40, %3A)";

/// `postgres://user:password@host1:5432,host2/db?key=value` → (key, value) pairs.
pub(super) fn parse_url(url: &str) -> Result<Vec<(String, String)>, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .unwrap_or(url);
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    // An unescaped '?' in a password starts the query early: the '@' then follows it, and
    // the text between them is no `key=value`. Never quote that text.
    if let Some(query) = query
        && !before_query.contains('@')
        && query
            .split_once('@')
            .is_some_and(|(head, _)| !head.contains(['=', '&']))
    {
        return Err(format!(
            "the URL has an '@' after a '?': a '?' in the password (or user name) must be written %3F; {RESERVED}"
        ));
    }
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    // A password with an unescaped '/', '?' or '#' ends the authority early: the rest of the
    // password then looks like a port, a path or a query. Never quote that text.
    if !authority.contains('@') && path.is_some_and(|p| p.contains('@')) {
        return Err(format!(
            "the URL has an '@' after its host part (in a database name, write it as %40): {RESERVED}"
        ));
    }
    let mut pairs = Vec::new();
    let (userinfo, hostlist) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            pairs.push(("user".to_string(), decode(user, "user name")?));
        }
        if let Some(password) = password {
            pairs.push(("password".to_string(), decode(password, "password")?));
        }
    }
    if !hostlist.is_empty() {
        host_list(hostlist, &mut pairs)?;
    }
    if let Some(path) = path
        && !path.is_empty()
    {
        pairs.push(("dbname".to_string(), decode(path, "database name")?));
    }
    if let Some(query) = query {
        for item in query.split('&').filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or("a URL query parameter has no '=value'")?;
            let key = decode(key, "parameter name")?;
            let value = decode(value, "parameter value")?;
            // libpq maps the JDBC-style ssl=true onto sslmode=require.
            if key == "ssl" && value == "true" {
                pairs.push(("sslmode".to_string(), "require".to_string()));
            } else {
                pairs.push((key, value));
            }
        }
    }
    Ok(pairs)
}

/// `host1:5432,[::1]:5433,host3` → `host` and `port` pairs (comma-separated, as libpq).
fn host_list(hostlist: &str, pairs: &mut Vec<(String, String)>) -> Result<(), String> {
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for item in hostlist.split(',') {
        let (host, port) = if let Some(inner) = item.strip_prefix('[') {
            let (addr, after) = inner
                .split_once(']')
                .ok_or("an IPv6 host in [brackets] is not closed")?;
            let port = match after {
                "" => "",
                p => p
                    .strip_prefix(':')
                    .ok_or("unexpected text after an IPv6 host")?,
            };
            (addr.to_string(), port)
        } else {
            match item.rsplit_once(':') {
                Some((h, p)) => (decode(h, "host")?, p),
                None => (decode(item, "host")?, ""),
            }
        };
        let port_ok = port.is_empty()
            || port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !port_ok {
            // The text after ':' may be part of a password with an unescaped reserved
            // character: name the part, never quote it.
            return Err(format!(
                "the text after ':' in the URL's host part is not a port number in 1..65535; {RESERVED}"
            ));
        }
        hosts.push(host);
        ports.push(port.to_string());
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        pairs.push(("host".to_string(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        pairs.push(("port".to_string(), ports.join(",")));
    }
    Ok(())
}

/// Percent-decodes one URL component; `what` names it in errors (never its value).
fn decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in the {what}"))?;
            if hex == 0 {
                return Err(format!("%00 in the {what}"));
            }
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not UTF-8 after %-decoding"))
}

/// libpq `key = value` pairs; values may be 'single quoted' with `\'` and `\\` escapes.
pub(super) fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Never echo an unknown word: it may be a password typed without its key.
            return Err(if is_known(&key) {
                format!("missing '=' after {key:?}")
            } else {
                format!(
                    "expected a postgres:// URL or key=value pairs (no '=' after the word at byte {start})"
                )
            });
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => value.push(escaped),
                        None => break,
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated quoted value".to_string());
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(format!("empty parameter name at byte {start}"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}
