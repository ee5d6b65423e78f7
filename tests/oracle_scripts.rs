//! The SQL*Plus scripts in sql/oracle/ run non-interactively: no `ACCEPT`, every `&`
//! substitution is a positional parameter or a variable DEFINEd earlier in the script, no
//! `&` in comments (SQL*Plus substitutes there too), and any SQL error ends the run with a
//! failure status. Their usage line passes as many arguments as they read.

use std::path::{Path, PathBuf};

fn scripts() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/oracle");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 3, "{out:?}");
    out
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start().to_uppercase();
    t.starts_with("--") || t.starts_with("REM ") || t == "REM" || t.starts_with("REMARK")
}

fn first_word(line: &str) -> String {
    line.split_whitespace().next().unwrap_or("").to_uppercase()
}

/// Every `&name` / `&&name` of a line: (name, whether it was `&&`).
fn substitutions(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'&' {
            let double = bytes.get(i + 1) == Some(&b'&');
            let start = i + if double { 2 } else { 1 };
            let end = line[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '#'))
                .map_or(line.len(), |n| start + n);
            out.push((line[start..end].to_owned(), double));
            i = end.max(start);
        } else {
            i += 1;
        }
    }
    out
}

/// Problems of one script, as readable sentences.
fn problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut defined: Vec<String> = Vec::new();
    let mut positional_max = 0;
    let mut exits_on_error = false;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if is_comment(line) {
            if line.contains('&') {
                problems.push(format!("line {n}: `&` in a comment is substituted: {line}"));
            }
            continue;
        }
        let word = first_word(line);
        if word == "ACCEPT" || word == "ACC" {
            problems.push(format!("line {n}: ACCEPT always prompts: {line}"));
        }
        let upper = line.to_uppercase();
        if upper.split_whitespace().collect::<Vec<_>>()
            == ["WHENEVER", "SQLERROR", "EXIT", "FAILURE"]
        {
            exits_on_error = true;
        }
        let is_statement = !line.trim().is_empty()
            && !matches!(word.as_str(), "WHENEVER" | "SET" | "DEFINE" | "PROMPT");
        if is_statement && !exits_on_error {
            problems.push(format!(
                "line {n}: runs before WHENEVER SQLERROR EXIT FAILURE: {line}"
            ));
        }
        for (name, double) in substitutions(line) {
            if double {
                problems.push(format!("line {n}: `&&{name}` defines a variable silently"));
            }
            if let Ok(position) = name.parse::<usize>() {
                positional_max = positional_max.max(position);
            } else if !defined.iter().any(|d| d.eq_ignore_ascii_case(&name)) {
                problems.push(format!(
                    "line {n}: `&{name}` is neither positional nor DEFINEd above: it would prompt"
                ));
            }
        }
        if word == "DEFINE"
            && let Some(name) = line.split_whitespace().nth(1)
        {
            defined.push(name.trim_end_matches('=').to_owned());
        }
    }
    if !exits_on_error {
        problems.push("no WHENEVER SQLERROR EXIT FAILURE".into());
    }
    // The usage line: `... @sql/oracle/NN_name.sql ARG1 ARG2 </dev/null`.
    let usage = text
        .lines()
        .find(|l| is_comment(l) && l.contains("sqlplus") && l.contains("@sql/oracle/"));
    match usage {
        None => problems.push("no `sqlplus ... @sql/oracle/...` usage line".into()),
        Some(usage) => {
            let after = usage.split(".sql").nth(1).unwrap_or("");
            let args = after
                .split_whitespace()
                .take_while(|w| !w.starts_with('<'))
                .count();
            if args != positional_max {
                problems.push(format!(
                    "the usage line passes {args} arguments, the script reads {positional_max}"
                ));
            }
            if !usage.contains("</dev/null") {
                problems.push("the usage line does not close stdin (</dev/null)".into());
            }
        }
    }
    problems
}

#[test]
fn every_script_runs_without_prompting_and_fails_on_error() {
    for (path, text) in scripts() {
        let problems = problems(&text);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            path.display(),
            problems.join("\n")
        );
    }
}

#[test]
fn every_script_connects_to_a_service_not_to_the_container_root() {
    for (path, text) in scripts() {
        assert!(
            !text.contains("/ as sysdba") && !text.contains("/ AS SYSDBA\n"),
            "{}: a bequeath SYSDBA login lands in CDB$ROOT",
            path.display()
        );
        let usage = text.lines().find(|l| l.contains("sqlplus")).unwrap();
        assert!(usage.contains("@//"), "{}: {usage}", path.display());
    }
}

#[test]
fn the_checks_catch_what_would_prompt_or_go_on_after_an_error() {
    let bad = "-- How: sqlplus -S U@//h/s @sql/oracle/x.sql A </dev/null\n\
               -- uses &&oms_schema\n\
               ACCEPT oms_schema CHAR PROMPT 'schema: '\n\
               GRANT READ ON &oms_schema..T TO &2;\n\
               WHENEVER SQLERROR EXIT FAILURE\n";
    let found = problems(bad).join("\n");
    for expected in [
        "line 2: `&` in a comment",
        "line 3: ACCEPT always prompts",
        "line 3: runs before WHENEVER",
        "`&oms_schema` is neither positional nor DEFINEd",
        "passes 1 arguments, the script reads 2",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
    let good = "-- How: sqlplus -S U@//h/s @sql/oracle/x.sql A B </dev/null\n\
                WHENEVER SQLERROR EXIT FAILURE\n\
                DEFINE s = \"&1\"\n\
                GRANT READ ON &s..T TO &2;\n";
    assert_eq!(problems(good), Vec::<String>::new());
}
