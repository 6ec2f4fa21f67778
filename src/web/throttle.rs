//! The login throttle: counts failed password checks per account name and per client address,
//! and refuses further attempts (HTTP 429) once either count reaches its limit within a window.
//!
//! It lives in memory only, so a restart forgets it; that is acceptable because a restart is
//! slower than the window for an attacker to exploit. Both tables have a fixed capacity, so a
//! flood of made-up names or addresses cannot grow the server's memory without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// The throttle's limits.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures allowed per account name within a window.
    pub max_per_account: u32,
    /// Failures allowed per client address within a window. Higher than the per-account limit
    /// so that a few people behind one address who mistype do not lock each other out, yet low
    /// enough to stop one address from trying many accounts.
    pub max_per_address: u32,
    /// The window's length in seconds, counted from the first failure in it.
    pub window_seconds: i64,
    /// How many names (and, separately, how many addresses) are remembered at most.
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            max_per_account: 5,
            max_per_address: 20,
            window_seconds: 15 * 60,
            capacity: 10_000,
        }
    }
}

/// Whether a login attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused without checking the password; try again in this many seconds.
    Blocked {
        retry_after: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    failures: u32,
}

/// A table of failure windows with a fixed capacity.
#[derive(Debug)]
struct Table<K> {
    windows: HashMap<K, Window>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Table<K> {
        Table {
            windows: HashMap::new(),
        }
    }

    /// Seconds until `key` may try again, if it has used up `max` failures in its window.
    fn blocked_for(&self, key: &K, max: u32, window: i64, now: i64) -> Option<u64> {
        let w = self.windows.get(key)?;
        let ends = w.start.saturating_add(window);
        (w.failures >= max && now < ends).then(|| (ends - now).max(1) as u64)
    }

    fn record(&mut self, key: &K, window: i64, capacity: usize, now: i64) {
        if let Some(w) = self.windows.get_mut(key) {
            if now >= w.start.saturating_add(window) {
                *w = Window {
                    start: now,
                    failures: 1,
                };
            } else {
                w.failures = w.failures.saturating_add(1);
            }
            return;
        }
        if self.windows.len() >= capacity {
            self.windows
                .retain(|_, w| now < w.start.saturating_add(window));
        }
        if self.windows.len() >= capacity {
            // Still full of live windows: forget the one that would expire first. A flood can
            // thus push out a real entry, but only by paying for a password check per entry,
            // which the per-address limit and the Argon2 cost make slow.
            if let Some(oldest) = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| k.clone())
            {
                self.windows.remove(&oldest);
            }
        }
        self.windows.insert(
            key.clone(),
            Window {
                start: now,
                failures: 1,
            },
        );
    }

    fn clear(&mut self, key: &K) {
        self.windows.remove(key);
    }
}

/// The key for a client address. An IPv6 client usually controls a whole /64, so the
/// address is counted by that prefix; an IPv4-mapped IPv6 address counts as the IPv4 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6Prefix(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// Valid user names are at most 64 characters; longer ones are cut so that a huge name
/// cannot take much memory (it cannot match an account anyway).
fn account_key(name: &str) -> String {
    name.chars().take(64).collect()
}

#[derive(Debug)]
struct Tables {
    accounts: Table<String>,
    addresses: Table<AddressKey>,
}

/// The throttle shared by every request.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    tables: Mutex<Tables>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            tables: Mutex::new(Tables {
                accounts: Table::new(),
                addresses: Table::new(),
            }),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // The tables hold plain counters that are valid after any panic.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `name` may try a password from `addr` now.
    pub fn check(&self, name: &str, addr: IpAddr, now: i64) -> Verdict {
        let c = self.config;
        let tables = self.tables();
        let by_account = tables.accounts.blocked_for(
            &account_key(name),
            c.max_per_account,
            c.window_seconds,
            now,
        );
        let by_address = tables.addresses.blocked_for(
            &AddressKey::from(addr),
            c.max_per_address,
            c.window_seconds,
            now,
        );
        match by_account.max(by_address) {
            Some(retry_after) => Verdict::Blocked { retry_after },
            None => Verdict::Allowed,
        }
    }

    /// Counts a wrong password (or unknown name) for both the account and the address.
    pub fn failure(&self, name: &str, addr: IpAddr, now: i64) {
        let c = self.config;
        let mut tables = self.tables();
        tables
            .accounts
            .record(&account_key(name), c.window_seconds, c.capacity, now);
        tables
            .addresses
            .record(&AddressKey::from(addr), c.window_seconds, c.capacity, now);
    }

    /// A correct password clears the account's failures, but not the address's: otherwise an
    /// attacker holding one valid account could log in to it between guesses at others.
    pub fn success(&self, name: &str) {
        self.tables().accounts.clear(&account_key(name));
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let t = self.tables();
        (t.accounts.windows.len(), t.addresses.windows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn small() -> Throttle {
        Throttle::new(ThrottleConfig {
            max_per_account: 3,
            max_per_address: 5,
            window_seconds: 100,
            capacity: 4,
        })
    }

    #[test]
    fn an_account_is_blocked_after_its_limit_until_the_window_ends() {
        let t = small();
        let a = ip("10.0.0.1");
        for i in 0..3 {
            assert_eq!(t.check("alice", a, 1000 + i), Verdict::Allowed);
            t.failure("alice", a, 1000 + i);
        }
        assert_eq!(
            t.check("alice", ip("10.0.0.2"), 1010),
            Verdict::Blocked { retry_after: 90 }
        );
        assert_eq!(t.check("bob", ip("10.0.0.2"), 1010), Verdict::Allowed);
        assert_eq!(t.check("alice", a, 1100), Verdict::Allowed);
    }

    #[test]
    fn an_address_is_blocked_across_accounts_and_success_does_not_clear_it() {
        let t = small();
        let a = ip("192.0.2.7");
        for (i, name) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            t.failure(name, a, 1000 + i as i64);
            t.success("mine");
        }
        assert!(matches!(t.check("f", a, 1010), Verdict::Blocked { .. }));
        t.success("f");
        assert!(matches!(t.check("f", a, 1010), Verdict::Blocked { .. }));
        assert_eq!(t.check("f", ip("192.0.2.8"), 1010), Verdict::Allowed);
    }

    #[test]
    fn success_clears_the_account_count() {
        let t = small();
        let a = ip("10.0.0.1");
        t.failure("alice", a, 0);
        t.failure("alice", a, 0);
        t.success("alice");
        t.failure("alice", a, 0);
        t.failure("alice", a, 0);
        assert_eq!(t.check("alice", ip("10.0.0.9"), 1), Verdict::Allowed);
    }

    #[test]
    fn ipv6_counts_by_64_prefix_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            AddressKey::from(ip("2001:db8::1")),
            AddressKey::from(ip("2001:db8::ffff:1"))
        );
        assert_ne!(
            AddressKey::from(ip("2001:db8::1")),
            AddressKey::from(ip("2001:db8:0:1::1"))
        );
        assert_eq!(
            AddressKey::from(ip("::ffff:10.0.0.1")),
            AddressKey::from(ip("10.0.0.1"))
        );
    }

    #[test]
    fn tables_stay_within_capacity() {
        let t = small();
        for i in 0..100 {
            t.failure(&format!("user{i}"), ip(&format!("10.0.1.{i}")), 1000 + i);
        }
        assert_eq!(t.sizes(), (4, 4));
        // The newest entries are the ones kept.
        t.failure("user99", ip("10.0.1.99"), 1100);
        t.failure("user99", ip("10.0.1.99"), 1100);
        assert!(matches!(
            t.check("user99", ip("10.9.9.9"), 1101),
            Verdict::Blocked { .. }
        ));
    }

    #[test]
    fn huge_names_are_cut() {
        let t = small();
        let long = "x".repeat(10_000);
        t.failure(&long, ip("10.0.0.1"), 0);
        assert_eq!(account_key(&long).len(), 64);
    }
}
