//! The colours of the printers' rows: the codes of `other_colors` and `event_colors` the native rows use.

use pyo3::prelude::*;

use crate::event::Kind;

/// The colour codes of `other_colors` the printers use (all empty without colours).
pub(super) struct Palette {
    pub(super) colon: String,
    pub(super) lineno: String,
    pub(super) kind: String,
    pub(super) cont: String,
    pub(super) internal_failure: String,
    pub(super) internal_detail: String,
    pub(super) source_failure: String,
    pub(super) source_detail: String,
    pub(super) normal: String,
    pub(super) reset: String,
    /// `event_colors.get(kind)`, indexed by `Kind`.
    pub(super) events: [String; 4],
    /// `' {CONT}[...]{RESET} '`, in place of the middle of a value cut to `repr_limit`.
    pub(super) cut_marker: String,
}

impl Palette {
    pub(super) fn read(other_colors: &Bound<'_, PyAny>, event_colors: &Bound<'_, PyAny>) -> PyResult<Palette> {
        let colour = |name: &str| other_colour(other_colors, name);
        let event_colour = |kind: Kind| -> PyResult<String> {
            Ok(event_colors.call_method1("get", (kind.name(),))?.str()?.to_string_lossy().into_owned())
        };
        let (cont, reset) = (colour("CONT")?, colour("RESET")?);
        Ok(Palette {
            cut_marker: format!(" {cont}[...]{reset} "),
            colon: colour("COLON")?,
            lineno: colour("LINENO")?,
            kind: colour("KIND")?,
            cont,
            internal_failure: colour("INTERNAL-FAILURE")?,
            internal_detail: colour("INTERNAL-DETAIL")?,
            source_failure: colour("SOURCE-FAILURE")?,
            source_detail: colour("SOURCE-DETAIL")?,
            normal: colour("NORMAL")?,
            reset,
            events: [
                event_colour(Kind::Call)?,
                event_colour(Kind::Exception)?,
                event_colour(Kind::Line)?,
                event_colour(Kind::Return)?,
            ],
        })
    }
}

/// `other_colors[name]`, as text.
pub(super) fn other_colour(other_colors: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    Ok(other_colors.get_item(name)?.str()?.to_string_lossy().into_owned())
}
