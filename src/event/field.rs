//! The event attributes queries filter on (`Field`), declared once each by `query_fields!`.

use super::slots::Slot;

/// Declares the event attributes queries filter on, once each: the variant, its name, whether its value is fixed by
/// the code object (`code_static`), and where it is read: a field of the event (`direct`, read in
/// [`EventData::get`]) or a lazily computed slot of the same name (`cached`).
macro_rules! query_fields {
    ($($variant:ident = $name:literal, $source:ident $(, $code_static:ident)?;)+) => {
        /// The event attributes that queries can filter on.
        #[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
        pub enum Field {
            $($variant,)+
        }

        impl Field {
            /// Every field, in the order of hunter's `ALLOWED_KEYS`.
            pub const ALL: [Field; [$($name),+].len()] = [$(Field::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Field::$variant => $name,)+
                }
            }

            /// Fields whose value, for a Python (non-builtin) event, is fixed by the code object, its globals and
            /// the event kind: predicates on them can be decided once per code object.
            pub fn is_code_static(self) -> bool {
                match self {
                    $(Field::$variant => query_fields!(@code_static $($code_static)?),)+
                }
            }

            /// The slot a `cached` field is computed into (None for a `direct` one).
            pub(super) fn slot(self) -> Option<Slot> {
                match self {
                    $(Field::$variant => query_fields!(@slot $source $variant),)+
                }
            }
        }
    };
    (@code_static code_static) => { true };
    (@code_static) => { false };
    (@slot cached $variant:ident) => { Some(Slot::$variant) };
    (@slot direct $variant:ident) => { None };
}

query_fields! {
    Arg = "arg", direct;
    Builtin = "builtin", direct, code_static;
    Calls = "calls", direct;
    Code = "code", cached;
    Depth = "depth", direct;
    Filename = "filename", cached, code_static;
    Fullsource = "fullsource", cached;
    Function = "function", cached, code_static;
    Globals = "globals", cached;
    Instruction = "instruction", cached;
    Kind = "kind", direct, code_static;
    Lineno = "lineno", cached;
    Locals = "locals", cached;
    Module = "module", cached, code_static;
    Source = "source", cached;
    Stdlib = "stdlib", cached, code_static;
    Threadid = "threadid", cached;
    Threadname = "threadname", cached;
}

impl Field {
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip_and_only_code_facts_are_static() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.name()), Some(field));
        }
        assert_eq!(Field::from_name("frame"), None);
        let static_fields: Vec<_> = Field::ALL.into_iter().filter(|f| f.is_code_static()).map(Field::name).collect();
        assert_eq!(static_fields, ["builtin", "filename", "function", "kind", "module", "stdlib"]);
    }
}
