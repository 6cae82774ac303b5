//! `#[goro::main]` and `#[goro::test]`: attributes that run `main` or a
//! test as a goroutine. Use them through `goro` (which re-exports them
//! behind its default `macros` feature), not this crate.
//!
//! Both rewrite the function into a plain one that hands its body, moved
//! into an inner `fn` so that `return` and `?` keep their meaning, to the
//! runtime (`goro::__run_main`, `goro::__run_test`, in goro's
//! `runtime/entry.rs`). The body's return value may be `!Send` (a
//! `Result<(), Box<dyn Error>>`): inside the goroutine, main's becomes a
//! `std::process::ExitCode` (std's `Termination::report`, which prints an
//! `Err` as std does) and a test's `Err` its `Debug` text; only that
//! crosses back.
//!
//! Bad arguments are `syn::Error`s pointing at the offending tokens; this
//! crate never panics on user input.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, ExprLit, ItemFn, Lit, Meta, ReturnType, Token, Type};

/// Runs `main`'s body as the main goroutine; see `goro::main`'s docs.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args.into(), item.into())
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// Runs a test's body in a goroutine; see `goro::test`'s docs.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into())
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[goro::main]",
            Kind::Test => "#[goro::test]",
        }
    }

    /// The arguments it takes, for error messages.
    fn takes(self) -> &'static str {
        match self {
            Kind::Main => "`workers = N` (the number of workers, N > 0)",
            Kind::Test => "`timeout = \"5s\"` (a duration in ms, s or m)",
        }
    }
}

/// The attribute's arguments.
#[derive(Default)]
struct Args {
    workers: Option<usize>,
    timeout_ms: Option<u64>,
}

fn parse_args(kind: Kind, args: TokenStream2) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut parsed = Args::default();
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            return Err(Error::new(
                meta.span(),
                format!("{} takes only {}", kind.attribute(), kind.takes()),
            ));
        };
        let key = nv.path.get_ident().map(ToString::to_string);
        match (kind, key.as_deref()) {
            (Kind::Main, Some("workers")) => {
                if parsed.workers.is_some() {
                    return Err(Error::new(nv.path.span(), "`workers` given twice"));
                }
                parsed.workers = Some(parse_workers(&nv.value)?);
            }
            (Kind::Test, Some("timeout")) => {
                if parsed.timeout_ms.is_some() {
                    return Err(Error::new(nv.path.span(), "`timeout` given twice"));
                }
                parsed.timeout_ms = Some(parse_timeout(&nv.value)?);
            }
            _ => {
                let path = &nv.path;
                return Err(Error::new(
                    path.span(),
                    format!(
                        "unknown argument `{}`: {} takes only {}",
                        quote!(#path).to_string().replace(' ', ""),
                        kind.attribute(),
                        kind.takes()
                    ),
                ));
            }
        }
    }
    Ok(parsed)
}

fn parse_workers(value: &Expr) -> syn::Result<usize> {
    let message = "`workers` must be a whole number of workers greater than 0, like `workers = 4`";
    let Expr::Lit(ExprLit {
        lit: Lit::Int(n), ..
    }) = value
    else {
        return Err(Error::new(value.span(), message));
    };
    match n.base10_parse::<usize>() {
        Ok(0) | Err(_) => Err(Error::new(n.span(), message)),
        Ok(n) => Ok(n),
    }
}

fn parse_timeout(value: &Expr) -> syn::Result<u64> {
    let message =
        "`timeout` must be a duration greater than 0 with a unit, like \"5s\", \"500ms\" or \"2m\"";
    let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = value
    else {
        return Err(Error::new(value.span(), message));
    };
    millis(&s.value()).ok_or_else(|| Error::new(s.span(), message))
}

/// "500ms", "5s", "2m" in milliseconds; None if not one of those or 0.
fn millis(text: &str) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&ms| ms > 0)
}

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_args(kind, args)?;
    let function: ItemFn = syn::parse2(item)?;
    let sig = &function.sig;
    if let Some(token) = &sig.asyncness {
        return Err(Error::new(
            token.span(),
            format!(
                "{} takes a plain `fn`, not an `async fn`: its body runs as a goroutine, where blocking calls park (remove `async`)",
                kind.attribute()
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(Error::new(
            sig.inputs.span(),
            format!("{} takes a function without arguments", kind.attribute()),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            format!("{} takes a function without generics", kind.attribute()),
        ));
    }
    if kind == Kind::Test {
        if let Some(attr) = function.attrs.iter().find(|a| a.path().is_ident("test")) {
            return Err(Error::new(
                attr.span(),
                "#[goro::test] already makes this a test: remove `#[test]`",
            ));
        }
    }
    let attrs = &function.attrs;
    let vis = &function.vis;
    let name = &sig.ident;
    let output = &sig.output;
    let block = &function.block;
    let body_fn = match kind {
        Kind::Main => quote!(__goro_main_body),
        Kind::Test => quote!(__goro_test_body),
    };
    let returns_unit = match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    };
    // The value that crosses back from the goroutine: `()` as it is; for
    // main, anything else as the exit code std's `Termination` makes of it
    // (printing an `Err` there, as std does); for a test, an `Err` as its
    // `Debug` text, which the test thread returns for libtest to print
    // (into the test's captured output: a worker thread's would not be).
    let span = output.span();
    let (outer_output, in_goroutine, on_test_thread) = match (kind, returns_unit) {
        (Kind::Test, true) => (quote!(), quote!(#body_fn()), quote!()),
        (Kind::Test, false) => (
            quote!(-> ::core::result::Result<(), ::goro::__TestFailure>),
            quote_spanned!(span=> ::goro::__TestReturn::failure(#body_fn())),
            quote!(.map_or(::core::result::Result::Ok(()), ::core::result::Result::Err)),
        ),
        (Kind::Main, _) => (
            quote!(-> ::std::process::ExitCode),
            quote_spanned!(span=> ::std::process::Termination::report(#body_fn())),
            quote!(),
        ),
    };
    let inner = quote! {
        fn #body_fn() #output #block
    };
    Ok(match kind {
        Kind::Main => {
            let workers = option(args.workers.map(|n| quote!(#n)));
            quote! {
                #(#attrs)*
                #vis fn #name() #outer_output {
                    #inner
                    ::goro::__run_main(#workers, || #in_goroutine)
                }
            }
        }
        Kind::Test => {
            let timeout = option(
                args.timeout_ms
                    .map(|ms| quote!(::core::time::Duration::from_millis(#ms))),
            );
            quote! {
                #[::core::prelude::v1::test]
                #(#attrs)*
                #vis fn #name() #outer_output {
                    #inner
                    ::goro::__run_test(#timeout, || #in_goroutine) #on_test_thread
                }
            }
        }
    })
}

fn option(value: Option<TokenStream2>) -> TokenStream2 {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote_spanned!(Span::call_site()=> ::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::{expand, millis, Kind};
    use quote::quote;

    fn error(kind: Kind, args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        match expand(kind, args, item) {
            Ok(out) => panic!("expected an error, got {out}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(millis("500ms"), Some(500));
        assert_eq!(millis("5s"), Some(5_000));
        assert_eq!(millis("2m"), Some(120_000));
        for bad in [
            "5",
            "s",
            "0s",
            "1.5s",
            "5 s",
            "-1s",
            "5h",
            "99999999999999999999s",
        ] {
            assert_eq!(millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_arguments_are_named() {
        let main = quote!(
            fn main() {}
        );
        let workers = error(Kind::Main, quote!(workers = "x"), main.clone());
        assert!(
            workers.contains("`workers` must be a whole number"),
            "{workers}"
        );
        let zero = error(Kind::Main, quote!(workers = 0), main.clone());
        assert!(zero.contains("greater than 0"), "{zero}");
        let unknown = error(Kind::Main, quote!(flavor = "multi"), main.clone());
        assert!(unknown.contains("unknown argument `flavor`"), "{unknown}");
        assert!(
            unknown.contains("#[goro::main] takes only `workers = N`"),
            "{unknown}"
        );
        let bare = error(Kind::Main, quote!(workers), main.clone());
        assert!(bare.contains("takes only"), "{bare}");
        let twice = error(Kind::Main, quote!(workers = 1, workers = 2), main);
        assert!(twice.contains("given twice"), "{twice}");
        let test = quote!(
            fn t() {}
        );
        let timeout = error(Kind::Test, quote!(timeout = "soon"), test.clone());
        assert!(timeout.contains("like \"5s\""), "{timeout}");
        let number = error(Kind::Test, quote!(timeout = 5), test.clone());
        assert!(number.contains("`timeout` must be a duration"), "{number}");
        let workers_in_test = error(Kind::Test, quote!(workers = 2), test);
        assert!(
            workers_in_test.contains("unknown argument `workers`"),
            "{workers_in_test}"
        );
    }

    #[test]
    fn bad_functions_are_refused() {
        let not_async = error(
            Kind::Main,
            quote!(),
            quote!(
                async fn main() {}
            ),
        );
        assert!(not_async.contains("not an `async fn`"), "{not_async}");
        let args = error(
            Kind::Test,
            quote!(),
            quote!(
                fn t(x: u32) {}
            ),
        );
        assert!(args.contains("without arguments"), "{args}");
        let generic = error(
            Kind::Test,
            quote!(),
            quote!(
                fn t<T>() {}
            ),
        );
        assert!(generic.contains("without generics"), "{generic}");
        let twice = error(
            Kind::Test,
            quote!(),
            quote!(
                #[test]
                fn t() {}
            ),
        );
        assert!(twice.contains("remove `#[test]`"), "{twice}");
    }

    #[test]
    fn expansions_hand_the_body_to_the_runtime() {
        let main = expand(
            Kind::Main,
            quote!(workers = 3),
            quote!(
                fn main() -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(main.contains(":: goro :: __run_main"), "{main}");
        assert!(main.contains("Some (3usize)"), "{main}");
        assert!(main.contains("-> :: std :: process :: ExitCode"), "{main}");
        let test = expand(
            Kind::Test,
            quote!(timeout = "2s"),
            quote!(
                fn t() {
                    body()
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(
            test.contains("# [:: core :: prelude :: v1 :: test]"),
            "{test}"
        );
        assert!(test.contains("Duration :: from_millis (2000u64)"), "{test}");
        assert!(
            !test.contains("__TestFailure"),
            "a unit test returns (): {test}"
        );
        let result = expand(
            Kind::Test,
            quote!(),
            quote!(
                fn t() -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(
            result.contains(":: goro :: __TestReturn :: failure"),
            "{result}"
        );
    }
}
