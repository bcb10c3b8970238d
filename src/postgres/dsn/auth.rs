//! libpq's `require_auth` (libpq 16+): which authentication requests the gate answers.
//!
//! The server chooses how the client authenticates; a client that answers whatever it is asked
//! hands its password to anyone who can stand in for the server. Under the default
//! `sslmode=prefer` that is anyone on the path: decline TLS (or accept it with a certificate of
//! its own, which nothing checks), then ask for AuthenticationCleartextPassword. So the gate,
//! stricter than libpq, sends the password in clear text over TCP only inside TLS whose
//! certificate it verified, or when `require_auth` names `password`; and it
//! honours `require_auth` itself as libpq does: a list of methods the server must use one of
//! (`none`: no authentication at all), or a list of negated ones (`!md5`) it must not use.

/// One way the server may authenticate the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication request: the server said AuthenticationOk at once (`trust`, or a
    /// client certificate alone).
    None,
    /// The password in clear text (AuthenticationCleartextPassword; `password`, LDAP, PAM,
    /// RADIUS on the server).
    Password,
    /// An MD5 hash of the password with the server's salt.
    Md5,
    /// GSSAPI (Kerberos).
    Gss,
    /// SSPI (Windows).
    Sspi,
    /// SASL: SCRAM-SHA-256 (with or without channel binding).
    Scram,
}

impl AuthMethod {
    const ALL: [(AuthMethod, &'static str); 6] = [
        (AuthMethod::None, "none"),
        (AuthMethod::Password, "password"),
        (AuthMethod::Md5, "md5"),
        (AuthMethod::Gss, "gss"),
        (AuthMethod::Sspi, "sspi"),
        (AuthMethod::Scram, "scram-sha-256"),
    ];

    /// The method an authentication request's code asks for (the Int32 after the `R` header);
    /// `None` for the codes that continue an exchange already begun, or that no method has.
    pub fn of_request(code: u32) -> Option<AuthMethod> {
        match code {
            0 => Some(AuthMethod::None),
            3 => Some(AuthMethod::Password),
            5 => Some(AuthMethod::Md5),
            7 => Some(AuthMethod::Gss),
            9 => Some(AuthMethod::Sspi),
            10 => Some(AuthMethod::Scram),
            _ => None,
        }
    }

    /// The method's name in `require_auth`.
    pub fn name(self) -> &'static str {
        AuthMethod::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The `require_auth` setting, parsed. The default (no setting) allows every method, as libpq
/// does; the gate's own rule about clear text (see the module) applies on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequireAuth {
    allowed: u8,
    /// The methods named without `!` (only these count as an explicit permission).
    named: u8,
}

impl Default for RequireAuth {
    fn default() -> RequireAuth {
        RequireAuth {
            allowed: u8::MAX,
            named: 0,
        }
    }
}

/// The values `require_auth` takes, for messages.
const ACCEPTS: &str = "a comma-separated list of password, md5, gss, sspi, scram-sha-256 and none, \
     each negated with ! or none of them (oauth is not supported)";

impl RequireAuth {
    /// Parses libpq's syntax: `scram-sha-256`, `md5,scram-sha-256`, `!password,!md5`, `!none`.
    /// Negated and plain names cannot be mixed, and no name may repeat (libpq refuses both).
    pub fn parse(text: &str) -> Result<RequireAuth, String> {
        let mut plain = 0u8;
        let mut negated = 0u8;
        for item in text.split(',') {
            let (negate, name) = match item.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let method = AuthMethod::ALL
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(m, _)| *m)
                .ok_or_else(|| format!("{item:?} is not a method: it takes {ACCEPTS}"))?;
            let bit = method.bit();
            if (plain | negated) & bit != 0 {
                return Err(format!("{name} is named twice: it takes {ACCEPTS}"));
            }
            if negate {
                negated |= bit;
            } else {
                plain |= bit;
            }
        }
        if plain != 0 && negated != 0 {
            return Err(format!(
                "negated and plain methods cannot be mixed: it takes {ACCEPTS}"
            ));
        }
        Ok(if plain != 0 {
            RequireAuth {
                allowed: plain,
                named: plain,
            }
        } else {
            RequireAuth {
                allowed: !negated,
                named: 0,
            }
        })
    }

    /// Whether the server may use `method`.
    pub fn allows(self, method: AuthMethod) -> bool {
        self.allowed & method.bit() != 0
    }

    /// Whether the setting names `method` as one the server may use (not merely leaves it
    /// unforbidden): what sending the password in clear text to a server the gate cannot verify
    /// takes.
    pub fn names(self, method: AuthMethod) -> bool {
        self.named & method.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allows_everything_and_names_nothing() {
        let any = RequireAuth::default();
        for (m, _) in AuthMethod::ALL {
            assert!(any.allows(m), "{m:?}");
            assert!(!any.names(m), "{m:?}");
        }
    }

    #[test]
    fn a_list_allows_exactly_its_methods() {
        let r = RequireAuth::parse("md5,scram-sha-256").expect("parses");
        assert!(r.allows(AuthMethod::Md5) && r.allows(AuthMethod::Scram));
        assert!(!r.allows(AuthMethod::Password) && !r.allows(AuthMethod::None));
        assert!(r.names(AuthMethod::Md5) && !r.names(AuthMethod::Password));
        let p = RequireAuth::parse("password").expect("parses");
        assert!(p.names(AuthMethod::Password) && !p.allows(AuthMethod::Scram));
        let none = RequireAuth::parse("none").expect("parses");
        assert!(none.allows(AuthMethod::None) && !none.allows(AuthMethod::Scram));
    }

    #[test]
    fn negations_forbid_their_methods_and_name_none() {
        let r = RequireAuth::parse("!password,!md5").expect("parses");
        assert!(!r.allows(AuthMethod::Password) && !r.allows(AuthMethod::Md5));
        assert!(r.allows(AuthMethod::Scram) && r.allows(AuthMethod::None));
        assert!(!r.names(AuthMethod::Scram));
        let some = RequireAuth::parse("!none").expect("parses");
        assert!(!some.allows(AuthMethod::None) && some.allows(AuthMethod::Md5));
    }

    #[test]
    fn bad_settings_say_what_it_takes() {
        for bad in [
            "",
            "scram",
            "md5,!password",
            "md5,md5",
            "md5,!md5",
            "oauth",
            " md5",
            "MD5",
        ] {
            let e = RequireAuth::parse(bad).expect_err(bad);
            assert!(e.contains("it takes a comma-separated list"), "{bad}: {e}");
        }
    }

    #[test]
    fn request_codes_map_to_methods() {
        assert_eq!(AuthMethod::of_request(3), Some(AuthMethod::Password));
        assert_eq!(AuthMethod::of_request(5), Some(AuthMethod::Md5));
        assert_eq!(AuthMethod::of_request(10), Some(AuthMethod::Scram));
        assert_eq!(AuthMethod::of_request(11), None);
        assert_eq!(AuthMethod::of_request(12), None);
        assert_eq!(AuthMethod::Scram.name(), "scram-sha-256");
    }
}
