//! Every relative link of the README and of `docs/*.md` leads somewhere inside the repository:
//! the file (or folder) exists, and an `#anchor` names a heading of that page as GitHub slugs it.
//! Pages moved out of the README keep their cross-references only if something checks them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .canonicalize()
        .unwrap()
}

/// README.md and every page of docs/, as paths inside the repository.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("the repository has docs/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The lines of `markdown` outside fenced code blocks, numbered from 1.
fn outside_fences(markdown: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"]
            .into_iter()
            .find(|marker| trimmed.starts_with(marker));
        match (fence, marker) {
            (None, Some(marker)) => fence = Some(marker),
            (Some(open), Some(marker)) if open == marker => fence = None,
            (None, None) => lines.push((index + 1, line)),
            _ => {}
        }
    }
    lines
}

/// The lines GitHub renders as text, with inline code spans blanked out: where a `](` is a link.
fn prose_lines(markdown: &str) -> Vec<(usize, String)> {
    outside_fences(markdown)
        .into_iter()
        .map(|(number, line)| (number, without_code_spans(line)))
        .collect()
}

fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(c);
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

/// The targets of the inline links `[text](target)` of a line (a title after the target, as in
/// `(page.md "title")`, left out).
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].trim();
        let target = target.split_whitespace().next().unwrap_or("");
        let target = target.trim_start_matches('<').trim_end_matches('>');
        targets.push(target.to_owned());
        rest = &after[end..];
    }
    targets
}

fn is_external(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
}

/// A heading's anchor as GitHub makes it: the rendered text lower-cased, every character that is
/// not a letter, a digit, a space, `-` or `_` removed, spaces turned into `-`.
fn github_slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text a heading renders: links reduced to their text (`[a](b)` is `a`).
fn rendered_heading(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.trim().trim_end_matches('#').trim().to_owned()
}

/// Every anchor of a page: one per ATX heading, a repeated slug numbered `-1`, `-2`, ... as
/// GitHub does.
fn anchors(markdown: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    for (_, line) in outside_fences(markdown) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug = github_slug(&rendered_heading(&line[hashes..]));
        let mut candidate = slug.clone();
        let mut n = 0;
        while anchors.contains(&candidate) {
            n += 1;
            candidate = format!("{slug}-{n}");
        }
        anchors.insert(candidate);
    }
    anchors
}

/// What is wrong with one link of `page`, if anything.
fn check_link(root: &Path, page: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("an empty link".into());
    }
    if is_external(target) {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let destination = if path.is_empty() {
        page.to_path_buf()
    } else {
        if path.contains("://") {
            return Some("not a path relative to the page".into());
        }
        // A leading `/` is the repository's root, as GitHub reads it: how a page of docs/ names
        // a file elsewhere in the repository without `../`.
        let joined = match path.strip_prefix('/') {
            Some(from_root) => root.join(from_root),
            None => page.parent().unwrap().join(path),
        };
        let Ok(resolved) = joined.canonicalize() else {
            return Some(format!("{} does not exist", joined.display()));
        };
        if !resolved.starts_with(root) {
            return Some("points outside the repository".into());
        }
        resolved
    };
    let anchor = anchor?;
    if destination.is_dir() {
        return Some("an anchor on a folder".into());
    }
    let text = std::fs::read_to_string(&destination).ok()?;
    if destination.extension().is_none_or(|ext| ext != "md") {
        return Some("an anchor into a file that is not Markdown".into());
    }
    if anchors(&text).contains(anchor) {
        None
    } else {
        Some(format!(
            "no heading of {} slugs to #{anchor}",
            destination
                .strip_prefix(root)
                .unwrap_or(&destination)
                .display()
        ))
    }
}

#[test]
fn every_relative_link_of_the_readme_and_docs_resolves_inside_the_repository() {
    let root = repository_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages(&root) {
        let text = std::fs::read_to_string(&page).unwrap();
        for (line_number, line) in prose_lines(&text) {
            for target in link_targets(&line) {
                checked += 1;
                if let Some(problem) = check_link(&root, &page, &target) {
                    broken.push(format!(
                        "{}:{line_number}: ({target}): {problem}",
                        page.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the scan broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(
        github_slug(&rendered_heading(" Listing and search (`GET /api/users`)")),
        "listing-and-search-get-apiusers"
    );
    assert_eq!(
        github_slug(&rendered_heading(" Reliability and security")),
        "reliability-and-security"
    );
    assert_eq!(github_slug("RDS Proxy (optional)"), "rds-proxy-optional");
    assert_eq!(github_slug("Per-route throttling"), "per-route-throttling");
    assert_eq!(
        github_slug("DB_TLS and a private CA"),
        "db_tls-and-a-private-ca"
    );
    assert_eq!(
        github_slug(&rendered_heading(" See [the API](api.md) ##")),
        "see-the-api"
    );
    let page = "# A\n## Notes\n```sh\n## not a heading\n```\n## Notes\n";
    let found = anchors(page);
    assert!(
        found.contains("notes") && found.contains("notes-1"),
        "{found:?}"
    );
    assert!(!found.contains("not-a-heading"), "{found:?}");
}

#[test]
fn links_are_found_outside_code_only() {
    let page = "see [api](docs/api.md#errors) and `[x](nowhere.md)`\n```\n[y](gone.md)\n```\n\
                [z](https://example.com) [w](a.md \"title\")";
    let targets: Vec<String> = prose_lines(page)
        .into_iter()
        .flat_map(|(_, line)| link_targets(&line))
        .collect();
    assert_eq!(
        targets,
        ["docs/api.md#errors", "https://example.com", "a.md"]
    );
}

#[test]
fn a_link_that_leaves_the_repository_or_misses_its_anchor_is_reported() {
    let root = repository_root();
    let readme = root.join("README.md");
    assert!(check_link(&root, &readme, "docs/api.md").is_none());
    assert!(check_link(&root, &readme, "docs/api.md#no-such-heading").is_some());
    assert!(check_link(&root, &readme, "docs/no-such-page.md").is_some());
    assert!(check_link(&root, &readme, "../").is_some());
    assert!(check_link(&root, &readme, "https://example.com/x").is_none());
}
