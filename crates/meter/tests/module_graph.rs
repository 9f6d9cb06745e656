//! The meter's modules import one way: no file imports from the module that wires it (its
//! parent, or any ancestor), and the files' imports have no cycle. Read from the source's
//! `crate::`, `super::` and `self::` paths outside test code, so the check needs no tool:
//! `cargo test -p joule-meter --test module_graph`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`[]` for lib.rs).
type Module = Vec<String>;

/// Every module file under `src`, by module path, with its non-test code.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(src, &path);
                // A test module imports what it tests; it is not part of the graph.
                if module.last().is_some_and(|m| m == "tests") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read file");
                found.insert(module, code(&text));
            }
        }
    }
    found
}

fn module_of(src: &Path, file: &Path) -> Module {
    let relative: PathBuf = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Module = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code before the file's test module, without comments.
fn code(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names: `use` trees expanded, and paths written inline.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(start) = rest.find("use ") {
        let before = rest[..start].chars().last();
        rest = &rest[start + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        expand(&tree, &mut out);
        rest = &rest[end + 1..];
    }
    for (index, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let tail: String = code[index..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        // `a::{...}` opens a use tree, expanded above.
        if !tail.ends_with("::") {
            out.push(tail.split("::").map(str::to_owned).collect());
        }
    }
    out
}

/// Expands a `use` tree (`a::{b, c::d}`) into its paths.
fn expand(tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree);
        out.push(path.split("::").map(|p| p.trim().to_owned()).collect());
        return;
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut item = String::new();
    for c in inner.chars().chain([',']) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !item.trim().is_empty() {
                    expand(&format!("{prefix}::{item}"), out);
                }
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
}

/// The module file a path lands in, from `module`: the longest prefix that is a module.
fn resolve(module: &Module, path: &[String], known: &BTreeMap<Module, String>) -> Option<Module> {
    let mut base: Module = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") => {
            // `super` of a/b.rs is a; of a/mod.rs (module a) it is a's parent.
            let mut parent = module.clone();
            parent.pop();
            parent
        }
        Some("self") => module.clone(),
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|p| p == "super") {
        base.pop();
        rest = &rest[1..];
    }
    let mut best = base.clone();
    let mut candidate = base;
    for part in rest {
        candidate.push(part.clone());
        if known.contains_key(&candidate) {
            best = candidate.clone();
        } else {
            break;
        }
    }
    Some(best)
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    known
        .iter()
        .map(|(module, code)| {
            let targets = paths(code)
                .iter()
                .filter_map(|path| resolve(module, path, &known))
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

#[test]
fn no_module_imports_from_the_module_that_wires_it() {
    let mut back = Vec::new();
    for (module, targets) in graph() {
        for target in targets {
            if module.starts_with(&target) {
                back.push(format!("{} imports {}", name(&module), name(&target)));
            }
        }
    }
    assert!(back.is_empty(), "imports back: {back:#?}");
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    // Depth-first search, reporting the first cycle found.
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == module) {
            return Some(stack[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        stack.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut done, &mut Vec::new());
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle
                .unwrap_or_default()
                .iter()
                .map(name)
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
}

#[test]
fn the_reader_sees_use_trees_and_inline_paths() {
    let found = paths("use crate::a::{b::C, d};\npub use super::e as f;\nlet x = crate::g::h();");
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert!(found.contains(&"crate::a::b::C".to_owned()), "{found:?}");
    assert!(found.contains(&"crate::a::d".to_owned()), "{found:?}");
    assert!(found.contains(&"super::e".to_owned()), "{found:?}");
    assert!(found.contains(&"crate::g::h".to_owned()), "{found:?}");
}
