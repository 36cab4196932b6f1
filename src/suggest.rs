//! "Did you mean 'X'?": the closest valid name to a mistyped one, for construction-time error messages only.

/// Edits (insert, delete, substitute, swap two neighbours) between `a` and `b`, case-insensitively.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    // rows[i][j]: the distance between a[..i] and b[..j] (optimal string alignment).
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidate closest to `typed`, if it is close enough to be a likely typo: at most one edit per three
/// characters (at least one). The first of equally close candidates wins; an exact match is no suggestion.
pub fn closest<T: AsRef<str>>(typed: &str, candidates: impl IntoIterator<Item = T>) -> Option<T> {
    let allowed = (typed.chars().count() / 3).max(1);
    let mut best: Option<(T, usize)> = None;
    let typed_length = typed.chars().count();
    for candidate in candidates {
        // The difference in length is a lower bound of the distance: a name far longer than any candidate (a
        // user's value can be any size) is ruled out without the quadratic table.
        if typed_length.abs_diff(candidate.as_ref().chars().count()) > allowed {
            continue;
        }
        let edits = distance(typed, candidate.as_ref());
        if edits > 0 && edits <= allowed && best.as_ref().is_none_or(|(_, best_edits)| edits < *best_edits) {
            best = Some((candidate, edits));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// [`closest`] for the Python side ("did you mean" for printer options and config keys), so both languages
/// suggest by the same rule.
#[pyo3::pyfunction]
#[pyo3(name = "_closest_name")]
pub fn closest_name(typed: &str, candidates: Vec<String>) -> Option<String> {
    closest(typed, candidates)
}

/// ` Did you mean 'X'?` for the closest candidate, or nothing when none is close.
pub fn did_you_mean<T: AsRef<str>>(typed: &str, candidates: impl IntoIterator<Item = T>) -> String {
    closest(typed, candidates).map_or_else(String::new, |name| format!(" Did you mean '{}'?", name.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_name_is_ruled_out_by_its_length() {
        let huge = "x".repeat(10_000_000);
        assert_eq!(closest(&huge, ["module", "function"]), None);
    }

    #[test]
    fn counts_each_kind_of_edit_once() {
        assert_eq!(distance("module", "module"), 0);
        assert_eq!(distance("modul", "module"), 1);
        assert_eq!(distance("retrun", "return"), 1);
        assert_eq!(distance("cal", "CALL"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["call", "line", "return", "exception"];
        assert_eq!(closest("cal", names), Some("call"));
        assert_eq!(closest("retrun", names), Some("return"));
        assert_eq!(closest("exceptoin", names), Some("exception"));
        assert_eq!(closest("foo", names), None);
        assert_eq!(closest("call", names), None);
        assert_eq!(did_you_mean("lien", names), " Did you mean 'line'?");
        assert_eq!(did_you_mean("zzz", names), "");
    }
}
