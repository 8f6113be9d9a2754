//! Values of resources and attributes: fixed-point scalars, coalesced
//! ranges, sets, and Mesos' text grammar for them.

use crate::v1::value::{Range, Ranges, Set};
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// A scalar in Mesos' fixed point: thousandths, as Mesos computes every
/// scalar (1.5123 cpus is 1.512 cpus). Sums and differences are exact, so
/// any number of additions and subtractions never drift.
///
/// ```
/// use mesos_proto::resources::Scalar;
///
/// let mut total = Scalar::from_f64(0.0);
/// for _ in 0..10 {
///     total += Scalar::from_f64(0.1);
/// }
/// assert_eq!(total, Scalar::from_f64(1.0));
/// assert_eq!(total.to_f64(), 1.0);
/// assert_eq!(Scalar::from_f64(1.5123).to_string(), "1.512");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scalar(i64);

impl Scalar {
    /// Zero.
    pub const ZERO: Scalar = Scalar(0);

    /// The nearest fixed-point value to `value`. Non-finite input saturates
    /// (NaN becomes zero); validate input before converting.
    pub fn from_f64(value: f64) -> Scalar {
        // `as` saturates, and maps NaN to 0.
        Scalar((value * 1000.0).round() as i64)
    }

    /// A value in thousandths.
    pub const fn from_milli(milli: i64) -> Scalar {
        Scalar(milli)
    }

    /// The value in thousandths.
    pub const fn milli(self) -> i64 {
        self.0
    }

    /// The value as a double: the nearest double to the exact decimal.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Scalar) -> Scalar {
        Scalar(self.0.saturating_sub(other.0).max(0))
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add for Scalar {
    type Output = Scalar;
    fn add(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Scalar {
    fn add_assign(&mut self, rhs: Scalar) {
        *self = *self + rhs;
    }
}

impl Sub for Scalar {
    type Output = Scalar;
    fn sub(self, rhs: Scalar) -> Scalar {
        Scalar(self.0.saturating_sub(rhs.0))
    }
}

impl SubAssign for Scalar {
    fn sub_assign(&mut self, rhs: Scalar) {
        *self = *self - rhs;
    }
}

impl std::iter::Sum for Scalar {
    fn sum<I: Iterator<Item = Scalar>>(iter: I) -> Scalar {
        iter.fold(Scalar::ZERO, Add::add)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_f64())
    }
}

/// Sorts and merges overlapping and adjacent ranges: `[1-2, 3-5, 4-9]`
/// becomes `[1-9]`. Ranges with `begin > end` are dropped.
pub fn coalesce(ranges: &mut Vec<Range>) {
    ranges.retain(|r| r.begin <= r.end);
    if ranges.len() < 2 {
        return;
    }
    ranges.sort_unstable_by_key(|r| (r.begin, r.end));
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match out.last_mut() {
            Some(last) if r.begin <= last.end.saturating_add(1) => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    *ranges = out;
}

/// Adds coalesced `right` into coalesced `left`.
pub fn ranges_add(left: &mut Vec<Range>, right: &[Range]) {
    left.extend_from_slice(right);
    coalesce(left);
}

/// Removes coalesced `right` from coalesced `left`, splitting ranges.
pub fn ranges_sub(left: &mut Vec<Range>, right: &[Range]) {
    if right.is_empty() || left.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut j = 0;
    for r in left.drain(..) {
        let mut begin = r.begin;
        let end = r.end;
        // Skip holes entirely before this range.
        while j < right.len() && right[j].end < begin {
            j += 1;
        }
        let mut k = j;
        let mut alive = true;
        while k < right.len() && right[k].begin <= end {
            let hole = &right[k];
            if hole.begin > begin {
                out.push(Range {
                    begin,
                    end: hole.begin - 1,
                });
            }
            if hole.end >= end {
                alive = false;
                break;
            }
            begin = hole.end + 1;
            k += 1;
        }
        if alive {
            out.push(Range { begin, end });
        }
    }
    *left = out;
}

/// True when every range of coalesced `right` lies inside coalesced `left`.
pub fn ranges_contain(left: &[Range], right: &[Range]) -> bool {
    right.iter().all(|r| {
        // The last range of `left` starting at or before `r.begin`.
        let i = left.partition_point(|l| l.begin <= r.begin);
        i > 0 && left[i - 1].end >= r.end
    })
}

/// How many values coalesced `ranges` hold (saturating).
pub fn ranges_len(ranges: &[Range]) -> u64 {
    ranges
        .iter()
        .map(|r| (r.end - r.begin).saturating_add(1))
        .fold(0, u64::saturating_add)
}

/// Adds the items of `right` missing from `left`, keeping `left`'s order.
pub fn set_add(left: &mut Vec<String>, right: &[String]) {
    for item in right {
        if !left.contains(item) {
            left.push(item.clone());
        }
    }
}

/// Removes the items of `right` from `left`.
pub fn set_sub(left: &mut Vec<String>, right: &[String]) {
    left.retain(|item| !right.contains(item));
}

/// True when every item of `right` is in `left`.
pub fn set_contains(left: &[String], right: &[String]) -> bool {
    right.iter().all(|item| left.contains(item))
}

/// A value in Mesos' text grammar.
#[derive(Debug, Clone, PartialEq)]
pub enum TextValue {
    /// `4`, `1.5`
    Scalar(f64),
    /// `[31000-32000, 33000-33100]`, coalesced.
    Ranges(Vec<Range>),
    /// `{a,b,c}`, without duplicates.
    Set(Vec<String>),
    /// Anything else, such as `rack-1`.
    Text(String),
}

/// Parses a value as Mesos reads `--resources` and `--attributes` values:
/// spaces are ignored; `[b-e, ...]` is ranges, `{a, ...}` a set, a number a
/// scalar, anything else text.
pub fn parse_text_value(text: &str) -> Result<TextValue, String> {
    let compact: String = text.chars().filter(|c| *c != ' ').collect();
    if compact.is_empty() {
        return Err("expected a value, found nothing".into());
    }
    if let Some(inner) = compact.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("ranges `{text}` must end with `]`"))?;
        let mut ranges = Vec::new();
        for part in inner.split(',').filter(|p| !p.is_empty()) {
            let (b, e) = part
                .split_once('-')
                .ok_or_else(|| format!("range `{part}` must be `begin-end`"))?;
            let parse = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| format!("expected non-negative integers in range `{part}`"))
            };
            let (begin, end) = (parse(b)?, parse(e)?);
            if begin > end {
                return Err(format!("range `{part}` has begin > end"));
            }
            ranges.push(Range { begin, end });
        }
        if ranges.is_empty() {
            return Err(format!("ranges `{text}` hold no range"));
        }
        coalesce(&mut ranges);
        return Ok(TextValue::Ranges(ranges));
    }
    if let Some(inner) = compact.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("set `{text}` must end with `}}`"))?;
        let mut items: Vec<String> = Vec::new();
        for item in inner.split(',').filter(|i| !i.is_empty()) {
            if item.contains(['{', '}', '[', ']']) {
                return Err(format!("set item `{item}` holds a bracket"));
            }
            if !items.iter().any(|i| i == item) {
                items.push(item.to_string());
            }
        }
        return Ok(TextValue::Set(items));
    }
    if compact.contains(['[', ']', '{', '}']) {
        return Err(format!("`{text}` has misplaced brackets"));
    }
    // Like Mesos' numify: a whole decimal number; `inf`/`nan` are text here
    // and refused as scalars by the caller.
    let numeric = compact
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match compact.parse::<f64>() {
        Ok(v) if numeric => Ok(TextValue::Scalar(v)),
        _ => Ok(TextValue::Text(compact)),
    }
}

/// Checks a scalar given as input as Mesos does: finite, not subnormal,
/// not negative.
pub fn validate_scalar(value: f64) -> Result<(), &'static str> {
    if value.is_nan() {
        Err("NaN not supported")
    } else if value.is_infinite() {
        Err("infinite values not supported")
    } else if value.is_subnormal() {
        Err("subnormal values not supported")
    } else if value < 0.0 {
        Err("negative values not supported")
    } else {
        Ok(())
    }
}

/// Formats ranges as Mesos does: `[31000-32000, 33000-33100]`.
pub(crate) fn fmt_ranges(f: &mut fmt::Formatter<'_>, ranges: &Ranges) -> fmt::Result {
    f.write_str("[")?;
    for (i, r) in ranges.range.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}-{}", r.begin, r.end)?;
    }
    f.write_str("]")
}

/// Formats a set as Mesos does: `{a, b}`.
pub(crate) fn fmt_set(f: &mut fmt::Formatter<'_>, set: &Set) -> fmt::Result {
    write!(f, "{{{}}}", set.item.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(pairs: &[(u64, u64)]) -> Vec<Range> {
        pairs
            .iter()
            .map(|&(begin, end)| Range { begin, end })
            .collect()
    }

    #[test]
    fn coalesce_merges_overlapping_and_adjacent() {
        let mut r = rs(&[(10, 12), (1, 2), (3, 5), (4, 9), (20, 20)]);
        coalesce(&mut r);
        assert_eq!(r, rs(&[(1, 12), (20, 20)]));
        let mut edge = rs(&[(u64::MAX - 1, u64::MAX), (0, u64::MAX - 2)]);
        coalesce(&mut edge);
        assert_eq!(edge, rs(&[(0, u64::MAX)]));
    }

    #[test]
    fn subtraction_splits_ranges() {
        let mut r = rs(&[(1, 10), (20, 30)]);
        ranges_sub(&mut r, &rs(&[(3, 4), (10, 21), (30, 40)]));
        assert_eq!(r, rs(&[(1, 2), (5, 9), (22, 29)]));
        let mut all = rs(&[(0, u64::MAX)]);
        ranges_sub(&mut all, &rs(&[(0, u64::MAX)]));
        assert!(all.is_empty());
    }

    #[test]
    fn containment() {
        let left = rs(&[(1, 10), (20, 30)]);
        assert!(ranges_contain(&left, &rs(&[(1, 1), (5, 10), (25, 30)])));
        assert!(!ranges_contain(&left, &rs(&[(9, 20)])));
        assert!(!ranges_contain(&left, &rs(&[(0, 0)])));
        assert!(ranges_contain(&left, &[]));
        assert_eq!(ranges_len(&left), 21);
    }

    #[test]
    fn text_values() {
        assert_eq!(parse_text_value(" 4.5 "), Ok(TextValue::Scalar(4.5)));
        assert_eq!(
            parse_text_value("[31000-32000, 1-2,3-4]"),
            Ok(TextValue::Ranges(rs(&[(1, 4), (31000, 32000)])))
        );
        assert_eq!(
            parse_text_value("{a, b,a}"),
            Ok(TextValue::Set(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            parse_text_value("rack-1"),
            Ok(TextValue::Text("rack-1".into()))
        );
        assert_eq!(parse_text_value("inf"), Ok(TextValue::Text("inf".into())));
        for bad in ["", "[1-2", "[5-1]", "[a-b]", "[1]", "{a", "a[b]"] {
            assert!(parse_text_value(bad).is_err(), "{bad:?}");
        }
    }
}
