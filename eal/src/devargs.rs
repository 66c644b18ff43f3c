//! Device arguments (DPDK's devargs): `<name>[,key=value,...]`, as `--vdev` and `-a`
//! take them.
//!
//! As DPDK's kvargs: pairs are split on commas except inside a `[...]` list
//! (`queues=[0,2-3]`), a key may stand alone (`key`, value `""`), empty pairs are
//! skipped, and the value is everything after the first `=`. Unlike DPDK, an empty name
//! or key and an unclosed `[` are errors rather than silently odd devices.

use std::fmt;
use std::str::FromStr;

/// A device's name and its `key=value` arguments, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Devargs {
    name: String,
    args: Vec<(String, String)>,
}

/// Why a devargs string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DevargsError {
    /// Nothing before the first comma.
    #[error("the device name is empty: write <name>[,key=value,...]")]
    EmptyName,
    /// The name holds `=` or whitespace.
    #[error(
        "'{name}' is not a device name: names hold no '=' or spaces; write <name>[,key=value,...]"
    )]
    BadName { name: String },
    /// A pair has nothing before its `=`, or a key holds whitespace.
    #[error("'{pair}' has no valid key: write key=value")]
    BadKey { pair: String },
    /// A `[` list is not closed.
    #[error("'{pair}' opens a '[' list that is never closed: add ']'")]
    UnclosedList { pair: String },
}

impl Devargs {
    /// Parses `<name>[,key=value,...]`.
    pub fn parse(text: &str) -> Result<Self, DevargsError> {
        let (name, args) = text.split_once(',').unwrap_or((text, ""));
        if name.is_empty() {
            return Err(DevargsError::EmptyName);
        }
        if name.contains(|c: char| c == '=' || c.is_whitespace()) {
            return Err(DevargsError::BadName { name: name.into() });
        }
        Ok(Self {
            name: name.into(),
            args: parse_pairs(args)?,
        })
    }

    /// The device name, e.g. `net_pcap0` or `0000:01:00.0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The driver a virtual device asks for: its name without the trailing instance
    /// number (`net_pcap0` → `net_pcap`).
    pub fn driver(&self) -> &str {
        self.name.trim_end_matches(|c: char| c.is_ascii_digit())
    }

    /// The `key=value` pairs in order; a key given alone has the value `""`.
    pub fn args(&self) -> &[(String, String)] {
        &self.args
    }

    /// The value of the first pair with this key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Splits into the name and the pairs.
    pub(crate) fn into_parts(self) -> (String, Vec<(String, String)>) {
        (self.name, self.args)
    }
}

impl FromStr for Devargs {
    type Err = DevargsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Devargs {
    /// The devargs string again: `name,key=value,...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in &self.args {
            write!(f, ",{key}={value}")?;
        }
        Ok(())
    }
}

/// Splits `key=value,...` on the commas outside `[...]` lists.
fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, DevargsError> {
    let mut pairs = Vec::new();
    let mut start = 0;
    let mut in_list = false;
    for (i, c) in text.char_indices().chain([(text.len(), ',')]) {
        match c {
            '[' => in_list = true,
            ']' => in_list = false,
            ',' if !in_list || i == text.len() => {
                let pair = &text[start..i];
                start = i + 1;
                if in_list {
                    return Err(DevargsError::UnclosedList { pair: pair.into() });
                }
                if pair.is_empty() {
                    continue;
                }
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return Err(DevargsError::BadKey { pair: pair.into() });
                }
                pairs.push((key.into(), value.into()));
            }
            _ => {}
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn names_args_and_drivers() {
        let d = Devargs::parse("net_pcap0,iface=eth2,rx_pcap=/tmp/a.pcap").unwrap();
        assert_eq!(d.name(), "net_pcap0");
        assert_eq!(d.driver(), "net_pcap");
        assert_eq!(
            d.args(),
            kv(&[("iface", "eth2"), ("rx_pcap", "/tmp/a.pcap")])
        );
        assert_eq!(d.get("iface"), Some("eth2"));
        assert_eq!(d.get("tx_pcap"), None);
        assert_eq!(d.to_string(), "net_pcap0,iface=eth2,rx_pcap=/tmp/a.pcap");

        let plain: Devargs = "net_null".parse().unwrap();
        assert_eq!((plain.name(), plain.driver()), ("net_null", "net_null"));
        assert!(plain.args().is_empty());
        assert_eq!(Devargs::parse("net_ring12").unwrap().driver(), "net_ring");
        assert_eq!(Devargs::parse("123").unwrap().driver(), "");
    }

    #[test]
    fn kvargs_forms() {
        let cases = [
            ("d,k=v", kv(&[("k", "v")])),
            ("d,flag", kv(&[("flag", "")])),
            ("d,k=", kv(&[("k", "")])),
            ("d,k=a=b", kv(&[("k", "a=b")])),
            ("d,,k=v,", kv(&[("k", "v")])),
            ("d,", kv(&[])),
            ("d,q=[0,2-3],x=1", kv(&[("q", "[0,2-3]"), ("x", "1")])),
            ("d,m=x[0-1]y[1,3-5,9]z", kv(&[("m", "x[0-1]y[1,3-5,9]z")])),
            ("d,k=v,k=w", kv(&[("k", "v"), ("k", "w")])),
        ];
        for (text, want) in cases {
            assert_eq!(Devargs::parse(text).unwrap().args(), want, "{text}");
        }
        assert_eq!(Devargs::parse("d,k=v,k=w").unwrap().get("k"), Some("v"));
    }

    #[test]
    fn bad_devargs() {
        let cases = [
            ("", DevargsError::EmptyName),
            (",k=v", DevargsError::EmptyName),
            ("a=b", DevargsError::BadName { name: "a=b".into() }),
            (
                "net null",
                DevargsError::BadName {
                    name: "net null".into(),
                },
            ),
            ("d,=v", DevargsError::BadKey { pair: "=v".into() }),
            (
                "d,k v=1",
                DevargsError::BadKey {
                    pair: "k v=1".into(),
                },
            ),
            (
                "d,q=[0,1",
                DevargsError::UnclosedList {
                    pair: "q=[0,1".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Devargs::parse(text), Err(want), "{text:?}");
        }
        assert!(
            DevargsError::EmptyName
                .to_string()
                .contains("<name>[,key=value,...]")
        );
    }
}
