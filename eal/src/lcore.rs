//! Logical cores (DPDK's lcores): ids, the CPUs each runs on, and the `-l`, `-c` and
//! `--lcores` forms that choose them.
//!
//! An lcore is one EAL thread, pinned to a set of CPUs. With `-l` and `-c`, lcore `n`
//! runs on CPU `n`; `--lcores` maps lcore ids onto arbitrary CPU sets, so several lcores
//! may share CPUs or one lcore may float over a group. Ids stay below [`MAX_LCORE`]
//! (DPDK's `RTE_MAX_LCORE`) so per-lcore tables can be plain arrays.

use std::fmt;
use std::fs;
use std::io;

use crate::error::EalError;

/// How many lcore ids exist: ids are `0..MAX_LCORE` (DPDK's default `RTE_MAX_LCORE`).
pub const MAX_LCORE: usize = 128;

/// The id of an lcore, below [`MAX_LCORE`]: an index for per-lcore tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(u32);

impl LcoreId {
    /// The lcore `id`, if it is below [`MAX_LCORE`].
    pub const fn new(id: u32) -> Option<Self> {
        if (id as usize) < MAX_LCORE {
            Some(Self(id))
        } else {
            None
        }
    }

    /// The id as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The id as an index into a table of [`MAX_LCORE`] entries.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A word of the kernel's CPU mask (`unsigned long`, as in `cpu_set_t`).
type Word = libc::c_ulong;
const WORD_BITS: usize = Word::BITS as usize;

/// A set of CPUs, laid out as the kernel's `cpu_set_t` so it goes straight to
/// `sched_setaffinity`. Prints as a CPU list, e.g. `0-3,6`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuSet {
    bits: [Word; CpuSet::CAPACITY / WORD_BITS],
}

impl CpuSet {
    /// How many CPUs a set can name: CPUs are `0..CAPACITY` (glibc's `CPU_SETSIZE`).
    pub const CAPACITY: usize = 1024;

    /// The empty set.
    pub const fn new() -> Self {
        Self {
            bits: [0; Self::CAPACITY / WORD_BITS],
        }
    }

    /// Adds `cpu`; returns whether it was new.
    ///
    /// # Panics
    /// If `cpu` is not below [`CpuSet::CAPACITY`].
    pub fn insert(&mut self, cpu: usize) -> bool {
        assert!(
            cpu < Self::CAPACITY,
            "CPU {cpu} is beyond CPU_SETSIZE ({})",
            Self::CAPACITY
        );
        let new = !self.contains(cpu);
        self.bits[cpu / WORD_BITS] |= 1 << (cpu % WORD_BITS);
        new
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < Self::CAPACITY && self.bits[cpu / WORD_BITS] & (1 << (cpu % WORD_BITS)) != 0
    }

    /// How many CPUs are in the set.
    pub fn len(&self) -> usize {
        self.bits
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&word| word == 0)
    }

    /// The CPUs in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..Self::CAPACITY).filter(|&cpu| self.contains(cpu))
    }

    /// The CPUs in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let mut both = *self;
        for (word, theirs) in both.bits.iter_mut().zip(other.bits) {
            *word &= theirs;
        }
        both
    }

    /// The CPUs the calling thread may run on (`sched_getaffinity`).
    pub fn of_current_thread() -> io::Result<Self> {
        let mut set = Self::new();
        // SAFETY: `bits` is a writable buffer of exactly the given size, laid out as the
        // kernel's CPU mask (an array of unsigned longs, CPU n at bit n); pid 0 is the
        // calling thread.
        let rc = unsafe {
            libc::sched_getaffinity(0, size_of_val(&set.bits), set.bits.as_mut_ptr().cast())
        };
        if rc == 0 {
            Ok(set)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Confines the calling thread to these CPUs (`sched_setaffinity`).
    pub fn pin_current_thread(&self) -> io::Result<()> {
        // SAFETY: `bits` is a readable buffer of exactly the given size, laid out as the
        // kernel's CPU mask; pid 0 is the calling thread.
        let rc = unsafe {
            libc::sched_setaffinity(0, size_of_val(&self.bits), self.bits.as_ptr().cast())
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl FromIterator<usize> for CpuSet {
    /// # Panics
    /// If a CPU is not below [`CpuSet::CAPACITY`].
    fn from_iter<I: IntoIterator<Item = usize>>(cpus: I) -> Self {
        let mut set = Self::new();
        for cpu in cpus {
            set.insert(cpu);
        }
        set
    }
}

impl fmt::Display for CpuSet {
    /// The CPU list form sysfs and `-l` use: `0-3,6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cpus = self.iter().peekable();
        let mut first = true;
        while let Some(start) = cpus.next() {
            let mut end = start;
            while cpus.next_if_eq(&(end + 1)).is_some() {
                end += 1;
            }
            let sep = if first { "" } else { "," };
            first = false;
            if end == start {
                write!(f, "{sep}{start}")?;
            } else {
                write!(f, "{sep}{start}-{end}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({self})")
    }
}

/// An lcore: its id and the CPUs its thread is pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lcore {
    id: LcoreId,
    cpus: CpuSet,
}

impl Lcore {
    /// The lcore's id.
    pub fn id(&self) -> LcoreId {
        self.id
    }

    /// The CPUs its thread runs on.
    pub fn cpus(&self) -> &CpuSet {
        &self.cpus
    }

    /// Lcore `id` on the CPU of the same number, as `-l` and `-c` make them.
    fn on_own_cpu(id: LcoreId) -> Self {
        Self {
            id,
            cpus: CpuSet::from_iter([id.index()]),
        }
    }
}

/// Parses `-l`: `<c1>[-c2][,c3[-c4],...]`, each lcore on the CPU of its number.
/// Repeats are merged, as DPDK does.
pub(crate) fn parse_corelist(arg: &str) -> Result<Vec<Lcore>, String> {
    let mut lcores: Vec<Lcore> = Vec::new();
    for (lo, hi) in parse_ranges(arg, check_lcore)? {
        for n in lo..=hi {
            let lcore = Lcore::on_own_cpu(lcore_id(n)?);
            if !lcores.contains(&lcore) {
                lcores.push(lcore);
            }
        }
    }
    Ok(lcores)
}

/// Parses `-c`: a hexadecimal mask, `0x` optional, bit n for lcore n on CPU n.
pub(crate) fn parse_coremask(arg: &str) -> Result<Vec<Lcore>, String> {
    let mask = arg.trim_matches([' ', '\t']);
    let hex = mask
        .strip_prefix("0x")
        .or_else(|| mask.strip_prefix("0X"))
        .unwrap_or(mask);
    let mut lcores = Vec::new();
    for (digit, c) in hex.chars().rev().enumerate() {
        let value = c
            .to_digit(16)
            .ok_or_else(|| format!("'{c}' is not a hexadecimal digit"))?;
        for bit in (0..4).filter(|bit| value & (1 << bit) != 0) {
            lcores.push(Lcore::on_own_cpu(lcore_id(digit * 4 + bit)?));
        }
    }
    if lcores.is_empty() {
        return Err("no lcores in coremask: set a bit per lcore, e.g. 0x3 for 0 and 1".into());
    }
    Ok(lcores)
}

/// Parses `--lcores`: `<lcores[@cpus]>[,<lcores[@cpus]>...]`, where each side is a
/// number, a range `a-b` or a group `(a,b-c,...)`.
///
/// Without `@cpus`, a number or range puts each lcore on its own CPU and a group puts
/// each of its lcores on the whole group; with it, every lcore of the left side runs on
/// all the CPUs of the right. E.g. `0,(1-2)@(0,1),3@1`: lcore 0 on CPU 0, lcores 1 and 2
/// on CPUs 0-1, lcore 3 on CPU 1.
pub(crate) fn parse_lcore_map(arg: &str) -> Result<Vec<Lcore>, String> {
    let mut cursor = Cursor::new(arg);
    let mut lcores: Vec<Lcore> = Vec::new();
    loop {
        let (ids, grouped) = cursor.set(check_lcore)?;
        let explicit = if cursor.eat(b'@') {
            let (cpus, _) = cursor.set(check_cpu)?;
            Some(expand(&cpus).collect::<CpuSet>())
        } else {
            None
        };
        let group: CpuSet = expand(&ids).collect();
        for n in expand(&ids) {
            let id = lcore_id(n)?;
            if lcores.iter().any(|lcore| lcore.id == id) {
                return Err(format!("lcore {n} is mapped twice: map each lcore once"));
            }
            let cpus = match explicit {
                Some(cpus) => cpus,
                None if grouped => group,
                None => CpuSet::from_iter([n]),
            };
            lcores.push(Lcore { id, cpus });
        }
        if !cursor.eat(b',') {
            cursor.end()?;
            return Ok(lcores);
        }
    }
}

/// Parses a CPU list such as sysfs's `online` file: `0-3,6`.
pub(crate) fn parse_cpu_list(list: &str) -> Result<CpuSet, String> {
    Ok(expand(&parse_ranges(list, check_cpu)?).collect())
}

/// The CPUs that are online, from sysfs (or, failing that, `sysconf`).
pub(crate) fn online_cpus() -> CpuSet {
    fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| parse_cpu_list(list.trim()).ok())
        .filter(|cpus| !cpus.is_empty())
        .unwrap_or_else(|| {
            // SAFETY: sysconf has no preconditions.
            let count = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
            (0..usize::try_from(count)
                .unwrap_or(1)
                .clamp(1, CpuSet::CAPACITY))
                .collect()
        })
}

/// The lcores chosen by an option, or by default every CPU this thread may use, and
/// the main lcore: checked against the CPUs that exist.
#[derive(Debug)]
pub(crate) struct LcoreChoice {
    /// The lcores and the option (`-l`, `-c`, `--lcores`) that named them.
    pub(crate) given: Option<(&'static str, Vec<Lcore>)>,
    /// `--main-lcore`.
    pub(crate) main: Option<LcoreId>,
}

impl LcoreChoice {
    /// The lcores sorted by id, and the main lcore (by default the lowest id).
    pub(crate) fn resolve(
        self,
        online: &CpuSet,
        affinity: &CpuSet,
    ) -> Result<(Vec<Lcore>, Lcore), EalError> {
        let mut lcores = match self.given {
            Some((option, lcores)) => {
                if let Some(cpu) = lcores
                    .iter()
                    .flat_map(|lcore| lcore.cpus.iter())
                    .find(|&cpu| !online.contains(cpu))
                {
                    return Err(EalError::CpuUnavailable {
                        option,
                        cpu,
                        online: online.to_string(),
                    });
                }
                lcores
            }
            None => online
                .intersection(affinity)
                .iter()
                .filter_map(|cpu| LcoreId::new(u32::try_from(cpu).ok()?))
                .map(Lcore::on_own_cpu)
                .collect(),
        };
        lcores.sort_by_key(|lcore| lcore.id);
        let Some(lowest) = lcores.first() else {
            return Err(EalError::NoLcores {
                online: online.to_string(),
                affinity: affinity.to_string(),
            });
        };
        let main_id = self.main.unwrap_or(lowest.id);
        let Some(&main) = lcores.iter().find(|lcore| lcore.id == main_id) else {
            return Err(EalError::MainLcoreNotEnabled {
                main: main_id,
                lcores: id_list(&lcores),
            });
        };
        Ok((lcores, main))
    }
}

/// The lcores' ids as a list, e.g. `0-2,5`.
pub(crate) fn id_list(lcores: &[Lcore]) -> String {
    lcores
        .iter()
        .map(|lcore| lcore.id.index())
        .collect::<CpuSet>()
        .to_string()
}

/// Parses `--main-lcore`: decimal or `0x` hexadecimal, below [`MAX_LCORE`].
pub(crate) fn parse_main_lcore(arg: &str) -> Result<LcoreId, String> {
    let n = match arg.strip_prefix("0x").or_else(|| arg.strip_prefix("0X")) {
        Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            usize::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if arg.bytes().all(|b| b.is_ascii_digit()) => arg.parse().ok(),
        None => None,
    }
    .ok_or("expected an lcore id, e.g. --main-lcore 1")?;
    lcore_id(n)
}

fn lcore_id(n: usize) -> Result<LcoreId, String> {
    u32::try_from(n).ok().and_then(LcoreId::new).ok_or_else(|| {
        format!(
            "lcore {n} is not below {MAX_LCORE} (RTE_MAX_LCORE): map high CPUs to low lcore \
             ids with --lcores, e.g. --lcores 0@{n}"
        )
    })
}

fn check_lcore(n: usize) -> Result<(), String> {
    lcore_id(n).map(drop)
}

fn check_cpu(n: usize) -> Result<(), String> {
    if n < CpuSet::CAPACITY {
        Ok(())
    } else {
        Err(format!("CPU {n} is not below {}", CpuSet::CAPACITY))
    }
}

/// Every number of the inclusive ranges.
fn expand(ranges: &[(usize, usize)]) -> impl Iterator<Item = usize> + '_ {
    ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
}

/// Parses `a[-b][,c[-d]...]` into checked ranges.
fn parse_ranges(
    list: &str,
    check: fn(usize) -> Result<(), String>,
) -> Result<Vec<(usize, usize)>, String> {
    let mut cursor = Cursor::new(list);
    let mut ranges = vec![cursor.range(check)?];
    while cursor.eat(b',') {
        ranges.push(cursor.range(check)?);
    }
    cursor.end()?;
    Ok(ranges)
}

/// A position in an lcore or CPU list; blanks between tokens are skipped, as DPDK does.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t']).len();
    }

    /// Consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_blanks();
        let found = self.rest().as_bytes().first() == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Fails unless only blanks are left.
    fn end(&mut self) -> Result<(), String> {
        self.skip_blanks();
        match self.rest().chars().next() {
            None => Ok(()),
            Some(c) => Err(self.unexpected(c)),
        }
    }

    fn unexpected(&self, c: char) -> String {
        let hint = match c {
            '@' | '(' | ')' => ": mappings and groups go in --lcores",
            _ => "",
        };
        format!("unexpected '{c}' at '{}'{hint}", self.rest())
    }

    fn number(&mut self) -> Result<usize, String> {
        self.skip_blanks();
        let rest = self.rest();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(match rest.chars().next() {
                None => "expected a number at the end".into(),
                Some(c) => format!("expected a number, found '{c}' at '{rest}'"),
            });
        }
        self.pos += digits;
        rest[..digits]
            .parse()
            .map_err(|_| format!("{} is too large", &rest[..digits]))
    }

    /// `a` or `a-b`, ascending, each number checked.
    fn range(&mut self, check: fn(usize) -> Result<(), String>) -> Result<(usize, usize), String> {
        let lo = self.number()?;
        check(lo)?;
        if !self.eat(b'-') {
            return Ok((lo, lo));
        }
        let hi = self.number()?;
        check(hi)?;
        if hi < lo {
            return Err(format!("range {lo}-{hi} is reversed: write {hi}-{lo}"));
        }
        Ok((lo, hi))
    }

    /// A number, a range or a `( )` group of them; and whether it was a group.
    fn set(
        &mut self,
        check: fn(usize) -> Result<(), String>,
    ) -> Result<(Vec<(usize, usize)>, bool), String> {
        if !self.eat(b'(') {
            return Ok((vec![self.range(check)?], false));
        }
        let mut ranges = vec![self.range(check)?];
        while self.eat(b',') {
            ranges.push(self.range(check)?);
        }
        if !self.eat(b')') {
            self.skip_blanks();
            return Err(match self.rest().chars().next() {
                None => "a '(' group is not closed: add ')'".into(),
                Some(c) => self.unexpected(c),
            });
        }
        Ok((ranges, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> LcoreId {
        LcoreId::new(n).unwrap()
    }

    fn cpus(list: &str) -> CpuSet {
        parse_cpu_list(list).unwrap()
    }

    /// `(lcore, cpu list)` pairs, for compact expectations.
    fn pairs(lcores: &[Lcore]) -> Vec<(u32, String)> {
        lcores
            .iter()
            .map(|lcore| (lcore.id.get(), lcore.cpus.to_string()))
            .collect()
    }

    fn p(list: &[(u32, &str)]) -> Vec<(u32, String)> {
        list.iter()
            .map(|&(id, cpus)| (id, cpus.to_owned()))
            .collect()
    }

    #[test]
    fn lcore_ids_stop_below_max_lcore() {
        assert_eq!(LcoreId::new(127).map(LcoreId::index), Some(127));
        assert_eq!(LcoreId::new(128), None);
        assert_eq!(id(5).to_string(), "5");
    }

    #[test]
    fn cpu_sets_print_as_lists() {
        let set: CpuSet = [0, 1, 2, 3, 6, 8, 9, 1023].into_iter().collect();
        assert_eq!(set.to_string(), "0-3,6,8-9,1023");
        assert_eq!(format!("{set:?}"), "CpuSet(0-3,6,8-9,1023)");
        assert_eq!(set.len(), 8);
        assert!(set.contains(1023) && !set.contains(4) && !set.contains(5000));
        assert_eq!(CpuSet::new().to_string(), "");
        assert!(CpuSet::new().is_empty());
        assert_eq!(set.intersection(&cpus("2-7")).to_string(), "2-3,6");
    }

    #[test]
    #[should_panic(expected = "beyond CPU_SETSIZE")]
    fn inserting_past_capacity_panics() {
        CpuSet::new().insert(CpuSet::CAPACITY);
    }

    #[test]
    fn corelists() {
        let ok = [
            ("0", p(&[(0, "0")])),
            ("0-3", p(&[(0, "0"), (1, "1"), (2, "2"), (3, "3")])),
            ("1,3-4", p(&[(1, "1"), (3, "3"), (4, "4")])),
            (" 1 , 0 ", p(&[(1, "1"), (0, "0")])),
            ("1,1,0-1", p(&[(1, "1"), (0, "0")])),
            ("127", p(&[(127, "127")])),
        ];
        for (arg, want) in ok {
            assert_eq!(pairs(&parse_corelist(arg).unwrap()), want, "-l {arg}");
        }
        let bad = [
            ("", "expected a number"),
            ("1,", "expected a number at the end"),
            ("1,,2", "expected a number, found ','"),
            ("a", "expected a number, found 'a'"),
            ("1-0", "range 1-0 is reversed: write 0-1"),
            ("0-", "expected a number"),
            ("1 2", "unexpected '2'"),
            ("128", "not below 128 (RTE_MAX_LCORE)"),
            ("0-200", "--lcores 0@200"),
            ("0@1", "mappings and groups go in --lcores"),
            ("99999999999999999999999", "too large"),
        ];
        for (arg, want) in bad {
            let err = parse_corelist(arg).unwrap_err();
            assert!(err.contains(want), "-l {arg:?}: {err}");
        }
    }

    #[test]
    fn coremasks() {
        let ok = [
            ("1", p(&[(0, "0")])),
            ("0x3", p(&[(0, "0"), (1, "1")])),
            ("0XA", p(&[(1, "1"), (3, "3")])),
            (" f0 ", p(&[(4, "4"), (5, "5"), (6, "6"), (7, "7")])),
            ("0x80000000000000000000000000000000", p(&[(127, "127")])),
        ];
        for (arg, want) in ok {
            assert_eq!(pairs(&parse_coremask(arg).unwrap()), want, "-c {arg}");
        }
        let bad = [
            ("", "no lcores in coremask"),
            ("0x", "no lcores in coremask"),
            ("0", "no lcores in coremask"),
            ("zz", "'z' is not a hexadecimal digit"),
            ("0x1g", "'g' is not"),
            (
                "0x100000000000000000000000000000000",
                "lcore 128 is not below",
            ),
        ];
        for (arg, want) in bad {
            let err = parse_coremask(arg).unwrap_err();
            assert!(err.contains(want), "-c {arg:?}: {err}");
        }
    }

    #[test]
    fn lcore_maps() {
        let ok = [
            ("0", p(&[(0, "0")])),
            ("0-2", p(&[(0, "0"), (1, "1"), (2, "2")])),
            ("0@1", p(&[(0, "1")])),
            ("1@0,0@1", p(&[(1, "0"), (0, "1")])),
            ("(0-1)@(0,1)", p(&[(0, "0-1"), (1, "0-1")])),
            ("(0,6)", p(&[(0, "0,6"), (6, "0,6")])),
            ("2-3@5", p(&[(2, "5"), (3, "5")])),
            ("0,1@(2-3),( 4 - 5 )@( 0 , 2 )", {
                p(&[(0, "0"), (1, "2-3"), (4, "0,2"), (5, "0,2")])
            }),
            // DPDK's own example from eal_parse_lcores.
            ("1,2@(5-7),(3-5)@(0,2),(0,6),7-8", {
                p(&[
                    (1, "1"),
                    (2, "5-7"),
                    (3, "0,2"),
                    (4, "0,2"),
                    (5, "0,2"),
                    (0, "0,6"),
                    (6, "0,6"),
                    (7, "7"),
                    (8, "8"),
                ])
            }),
            ("0@1000", p(&[(0, "1000")])),
        ];
        for (arg, want) in ok {
            assert_eq!(
                pairs(&parse_lcore_map(arg).unwrap()),
                want,
                "--lcores {arg}"
            );
        }
        let bad = [
            ("", "expected a number"),
            ("1@", "expected a number at the end"),
            ("@1", "expected a number, found '@'"),
            ("(0-1", "not closed"),
            ("(0-1]", "unexpected ']'"),
            ("0@(1", "not closed"),
            ("1@0,1@1", "lcore 1 is mapped twice"),
            ("(0-1),1", "lcore 1 is mapped twice"),
            ("200@0", "lcore 200 is not below 128"),
            ("0@1024", "CPU 1024 is not below 1024"),
            ("3-1@0", "range 3-1 is reversed"),
            ("0@1@2", "unexpected '@'"),
            ("0;1", "unexpected ';'"),
        ];
        for (arg, want) in bad {
            let err = parse_lcore_map(arg).unwrap_err();
            assert!(err.contains(want), "--lcores {arg:?}: {err}");
        }
    }

    #[test]
    fn main_lcore_ids() {
        assert_eq!(parse_main_lcore("3"), Ok(id(3)));
        assert_eq!(parse_main_lcore("0x7f"), Ok(id(127)));
        assert_eq!(parse_main_lcore("010"), Ok(id(10)));
        for bad in ["", "x", "-1", "1.5", "0x", "0xg", " 1"] {
            assert!(parse_main_lcore(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_main_lcore("128")
                .unwrap_err()
                .contains("RTE_MAX_LCORE")
        );
    }

    #[test]
    fn the_online_list_is_read() {
        let online = online_cpus();
        assert!(!online.is_empty());
        let mine = CpuSet::of_current_thread().unwrap();
        assert!(!mine.intersection(&online).is_empty());
    }

    fn choice(given: Option<(&'static str, &str)>, main: Option<u32>) -> LcoreChoice {
        LcoreChoice {
            given: given.map(|(option, arg)| (option, parse_lcore_map(arg).unwrap())),
            main: main.map(id),
        }
    }

    #[test]
    fn resolving_sorts_checks_cpus_and_picks_main() {
        let online = cpus("0-3");
        let all = cpus("0-1023");

        let (lcores, main) = choice(Some(("-l", "3,1")), None)
            .resolve(&online, &all)
            .unwrap();
        assert_eq!(pairs(&lcores), p(&[(1, "1"), (3, "3")]));
        assert_eq!(main.id(), id(1));

        let (_, main) = choice(Some(("--lcores", "0-2")), Some(2))
            .resolve(&online, &all)
            .unwrap();
        assert_eq!(main.id(), id(2));

        // By default: every online CPU this thread may use.
        let (lcores, main) = choice(None, None).resolve(&online, &cpus("1-2,7")).unwrap();
        assert_eq!(pairs(&lcores), p(&[(1, "1"), (2, "2")]));
        assert_eq!(main.id(), id(1));

        let err = choice(Some(("-l", "0-5")), None)
            .resolve(&online, &all)
            .unwrap_err();
        assert!(
            matches!(
                err,
                EalError::CpuUnavailable {
                    option: "-l",
                    cpu: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("online CPUs: 0-3"), "{err}");

        let err = choice(Some(("--lcores", "0@(1,9)")), None)
            .resolve(&online, &all)
            .unwrap_err();
        assert!(
            matches!(
                err,
                EalError::CpuUnavailable {
                    option: "--lcores",
                    cpu: 9,
                    ..
                }
            ),
            "{err}"
        );

        let err = choice(Some(("-l", "0-1")), Some(3))
            .resolve(&online, &all)
            .unwrap_err();
        assert!(matches!(err, EalError::MainLcoreNotEnabled { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("main lcore 3 is not one of the lcores (0-1)"),
            "{err}"
        );

        let err = choice(None, None).resolve(&online, &cpus("8")).unwrap_err();
        assert!(matches!(err, EalError::NoLcores { .. }), "{err}");
    }

    #[test]
    fn pinning_round_trips() {
        // Only this test's thread is pinned; it ends with the test.
        let mine = CpuSet::of_current_thread().unwrap();
        let cpu = mine.iter().next().unwrap();
        CpuSet::from_iter([cpu]).pin_current_thread().unwrap();
        assert_eq!(
            CpuSet::of_current_thread().unwrap(),
            CpuSet::from_iter([cpu])
        );
        let err = CpuSet::new().pin_current_thread().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
