//! The SQL*Plus scripts in sql/oracle/ run non-interactively: no `ACCEPT`, every positional
//! parameter defined (as empty) before use so that one left out never prompts, every other
//! `&` substitution a variable DEFINEd earlier in the script, no `&` in comments (SQL*Plus
//! substitutes there too), and any SQL error ends the run with a failure status. Their
//! header lists the parameters, and every `sqlplus` command line, in a script's header or
//! in the operator's documents, gives the password on stdin (never on the command line)
//! and passes as many arguments as the script takes. The store script (03_store.sql) can be
//! run again: its DDL runs in PL/SQL blocks that tolerate ORA-00955 only, each schema
//! version is a step that runs once and records itself, and its tables and columns are
//! SQLite's.

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

/// The positional parameters a script reads: how many it needs and how many it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arity {
    required: usize,
    max: usize,
}

/// The header's `Parameters:` block: `--   N  text`, one entry per positional parameter,
/// `(optional)` at the start of the text of those that may be left out.
fn declared_parameters(text: &str) -> Vec<(usize, bool)> {
    text.lines()
        .take_while(|l| is_comment(l))
        .skip_while(|l| !l.contains("Parameters:"))
        .skip(1)
        .take_while(|l| l.trim_start_matches('-').trim() != "")
        .filter_map(|l| {
            let rest = l.trim_start_matches('-').trim_start();
            let (number, text) = rest.split_once(char::is_whitespace)?;
            let number = number.parse::<usize>().ok()?;
            Some((number, text.trim_start().starts_with("(optional)")))
        })
        .collect()
}

/// Problems of one `sqlplus` command line (a script's usage line or a documented one)
/// that runs `script` with `arity`.
fn command_problems(line: &str, script: &str, arity: Arity) -> Vec<String> {
    let mut problems = Vec::new();
    // The password goes on standard input, and nothing else: SQL*Plus reads it from
    // there when it is not a terminal, and stdin is then at its end, so anything that
    // would still read input gets EOF instead of waiting.
    if !line.contains("printf '%s\\n' \"$") || !line.contains("| sqlplus ") {
        problems.push(format!(
            "`{line}`: feed the password on stdin (printf '%s\\n' \"$PW\" | sqlplus ...)"
        ));
    }
    if line.contains("</dev/null") {
        problems.push(format!(
            "`{line}`: </dev/null leaves SQL*Plus no password to read: the login fails"
        ));
    }
    let after_sqlplus = line.split("sqlplus ").nth(1).unwrap_or("");
    match after_sqlplus
        .split_whitespace()
        .find(|w| w.contains("@//"))
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
    {
        None => problems.push(format!(
            "`{line}`: no USER@//host:port/service connect string"
        )),
        Some(connect) => {
            if connect.split('@').next().unwrap_or("").contains('/') {
                problems.push(format!(
                    "`{line}`: a password on the command line ({connect})"
                ));
            }
        }
    }
    if !after_sqlplus.split_whitespace().any(|w| w == "-L") {
        problems.push(format!(
            "`{line}`: without -L a wrong password prompts again"
        ));
    }
    let args = line
        .split(&format!("@sql/oracle/{script}"))
        .nth(1)
        .unwrap_or("")
        .split('`')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .take_while(|w| !w.starts_with(['<', '|', '#', ';', '(']) && *w != "&&")
        .count();
    if args < arity.required || args > arity.max {
        problems.push(format!(
            "`{line}` passes {args} arguments, {script} takes {} to {}",
            arity.required, arity.max
        ));
    }
    problems
}

/// Problems of one script, as readable sentences, and the parameters it takes.
fn check_script(name: &str, text: &str) -> (Vec<String>, Arity) {
    let mut problems = Vec::new();
    let mut defined: Vec<String> = Vec::new();
    // Positional parameters defined (as empty when left out) by the idiom
    // `COLUMN n NEW_VALUE n` + `SELECT '' "n" FROM dual WHERE ROWNUM = 0`.
    let mut new_value_columns: Vec<String> = Vec::new();
    let mut initialized: Vec<usize> = Vec::new();
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
        let words: Vec<_> = upper.split_whitespace().collect();
        if words == ["WHENEVER", "SQLERROR", "EXIT", "FAILURE"] {
            exits_on_error = true;
        }
        if matches!(words.as_slice(), ["COLUMN" | "COL", column, "NEW_VALUE" | "NEW_V", variable, ..] if column == variable)
        {
            new_value_columns.push(words[1].to_owned());
        }
        if word == "SELECT" && upper.contains("WHERE ROWNUM = 0") {
            for column in &new_value_columns {
                if let Ok(position) = column.parse::<usize>()
                    && upper.contains(&format!("\"{column}\""))
                {
                    initialized.push(position);
                }
            }
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
                if !initialized.contains(&position) {
                    problems.push(format!(
                        "line {n}: `&{position}` prompts when parameter {position} is left \
                         out: define it first (COLUMN {position} NEW_VALUE {position}, \
                         SELECT '' \"{position}\" FROM dual WHERE ROWNUM = 0)"
                    ));
                }
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
    // The header names each parameter, in order, the optional ones last.
    let declared = declared_parameters(text);
    let numbers: Vec<usize> = declared.iter().map(|(number, _)| *number).collect();
    if numbers != (1..=positional_max).collect::<Vec<_>>() {
        problems.push(format!(
            "the header's Parameters: block lists {numbers:?}, the script reads 1 to {positional_max}"
        ));
    }
    let required = declared
        .iter()
        .take_while(|(_, optional)| !optional)
        .count();
    if declared[required..].iter().any(|(_, optional)| !optional) {
        problems.push("a required parameter follows an optional one".into());
    }
    let arity = Arity {
        required,
        max: positional_max,
    };
    // The usage line: `printf '%s\n' "$PW" | sqlplus -S -L "U@//h/s" @sql/oracle/NN_name.sql ARGS`.
    let usage = text
        .lines()
        .find(|l| is_comment(l) && l.contains("sqlplus") && l.contains("@sql/oracle/"));
    match usage {
        None => problems.push("no `sqlplus ... @sql/oracle/...` usage line".into()),
        Some(usage) => {
            problems.extend(command_problems(usage.trim_start_matches('-'), name, arity));
        }
    }
    (problems, arity)
}

fn problems(text: &str) -> Vec<String> {
    check_script("x.sql", text).0
}

#[test]
fn every_script_runs_without_prompting_and_fails_on_error() {
    for (path, text) in scripts() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let (problems, _) = check_script(name, &text);
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
               -- Parameters:\n\
               --   1  a schema\n\
               --   2  a user\n\
               --\n\
               -- uses &&oms_schema\n\
               ACCEPT oms_schema CHAR PROMPT 'schema: '\n\
               GRANT READ ON &oms_schema..T TO &2;\n\
               WHENEVER SQLERROR EXIT FAILURE\n";
    let found = problems(bad).join("\n");
    for expected in [
        "line 6: `&` in a comment",
        "line 7: ACCEPT always prompts",
        "line 7: runs before WHENEVER",
        "`&oms_schema` is neither positional nor DEFINEd",
        "line 8: `&2` prompts when parameter 2 is left out",
        "feed the password on stdin",
        "</dev/null leaves SQL*Plus no password",
        "without -L",
        "passes 1 arguments, x.sql takes 2 to 2",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
    let good = "-- How: printf '%s\\n' \"$PW\" | sqlplus -S -L \"U@//h/s\" @sql/oracle/x.sql A\n\
                -- Parameters:\n\
                --   1  a schema\n\
                --   2  (optional) a user\n\
                --\n\
                WHENEVER SQLERROR EXIT FAILURE\n\
                COLUMN 1 NEW_VALUE 1 NOPRINT\n\
                COLUMN 2 NEW_VALUE 2 NOPRINT\n\
                SELECT '' \"1\", '' \"2\" FROM dual WHERE ROWNUM = 0;\n\
                DEFINE s = \"&1\"\n\
                GRANT READ ON &s..T TO &2;\n";
    assert_eq!(problems(good), Vec::<String>::new());
    let password_on_the_line =
        "printf '%s\\n' \"$PW\" | sqlplus -S -L \"U/secret@//h/s\" @sql/oracle/x.sql A";
    let arity = Arity {
        required: 1,
        max: 2,
    };
    let found = command_problems(password_on_the_line, "x.sql", arity).join("\n");
    assert!(found.contains("a password on the command line"), "{found}");
    let too_many = "printf '%s\\n' \"$PW\" | sqlplus -S -L \"U@//h/s\" @sql/oracle/x.sql A B C";
    let found = command_problems(too_many, "x.sql", arity).join("\n");
    assert!(
        found.contains("passes 3 arguments, x.sql takes 1 to 2"),
        "{found}"
    );
}

/// Every `sqlplus ... @sql/oracle/NN.sql` command of the operator's documents gives its
/// password on stdin (none on the command line) and passes as many arguments as the
/// script takes; every script is documented.
#[test]
fn every_documented_sqlplus_command_fits_its_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let arities: Vec<(String, Arity)> = scripts()
        .into_iter()
        .map(|(path, text)| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let arity = check_script(&name, &text).1;
            (name, arity)
        })
        .collect();
    let mut problems = Vec::new();
    let mut documented: Vec<String> = Vec::new();
    for document in ["docs/oracle.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(document)).unwrap();
        for (n, line) in text.lines().enumerate() {
            if !line.contains("sqlplus ") {
                continue;
            }
            for part in line.split("@sql/oracle/").skip(1) {
                let script = format!("{}.sql", part.split(".sql").next().unwrap());
                match arities.iter().find(|(name, _)| *name == script) {
                    None => problems.push(format!("{document}:{}: no sql/oracle/{script}", n + 1)),
                    Some((_, arity)) => {
                        documented.push(script.clone());
                        problems.extend(
                            command_problems(line, &script, *arity)
                                .into_iter()
                                .map(|p| format!("{document}:{}: {p}", n + 1)),
                        );
                    }
                }
            }
        }
    }
    for (name, _) in &arities {
        if !documented.contains(name) {
            problems.push(format!("docs/oracle.md never shows how to run {name}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Problems that would stop a second run of the store script, or make it unfit for Oracle
/// 12c to 23ai, and the schema versions its steps record, in order.
fn rerun_problems(text: &str) -> (Vec<String>, Vec<u32>) {
    let mut problems = Vec::new();
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut block: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if is_comment(line) {
            continue;
        }
        let upper = line.to_uppercase();
        if upper.contains("IF NOT EXISTS") {
            problems.push(format!(
                "line {n}: Oracle before 23ai has no IF NOT EXISTS: {line}"
            ));
        }
        match &mut block {
            None if matches!(upper.trim(), "DECLARE" | "BEGIN") => block = Some((n, upper)),
            None => {
                if matches!(
                    first_word(line).as_str(),
                    "CREATE" | "ALTER" | "DROP" | "INSERT" | "UPDATE" | "DELETE"
                ) {
                    problems.push(format!(
                        "line {n}: outside a PL/SQL block, a second run stops at its first \
                         existing object: {line}"
                    ));
                }
            }
            Some(_) if line.trim() == "/" => blocks.push(block.take().unwrap()),
            Some((_, text)) => {
                text.push('\n');
                text.push_str(&upper);
            }
        }
    }
    if let Some((n, _)) = block {
        problems.push(format!("line {n}: a PL/SQL block not ended by a / line"));
    }
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut versions = Vec::new();
    for (i, (n, text)) in blocks.iter().enumerate() {
        let text = squeeze(text);
        if text.contains("WHEN OTHERS THEN NULL") {
            problems.push(format!(
                "block at line {n}: WHEN OTHERS THEN NULL hides every error, not only ORA-00955"
            ));
        }
        if text.contains("EXECUTE IMMEDIATE")
            && !(text.contains("PRAGMA EXCEPTION_INIT(NAME_IN_USE, -955)")
                && text.contains("WHEN NAME_IN_USE THEN NULL"))
        {
            problems.push(format!(
                "block at line {n}: its DDL does not tolerate ORA-00955 (name_in_use)"
            ));
        }
        if i == 0 {
            if !text.contains("CREATE TABLE RADAR_SCHEMA_VERSION (") {
                problems.push(format!(
                    "block at line {n}: the first block creates radar_schema_version"
                ));
            }
            continue;
        }
        let Some(version) = text
            .split("INSERT INTO RADAR_SCHEMA_VERSION")
            .nth(1)
            .and_then(|rest| rest.split("VALUES (").nth(1))
            .and_then(|rest| rest.split(',').next())
            .and_then(|v| v.trim().parse::<u32>().ok())
        else {
            problems.push(format!(
                "block at line {n}: a step records its version in radar_schema_version"
            ));
            continue;
        };
        if !text.contains(&format!("WHERE VERSION = {version}")) || !text.contains("IF APPLIED = 0")
        {
            problems.push(format!(
                "block at line {n}: step {version} runs again when already applied"
            ));
        }
        if !text.contains("COMMIT") {
            problems.push(format!(
                "block at line {n}: step {version} is not committed"
            ));
        }
        versions.push(version);
    }
    if versions != (1..=u32::try_from(versions.len()).unwrap()).collect::<Vec<_>>() {
        problems.push(format!(
            "the steps record versions {versions:?}, not 1, 2, ... in order"
        ));
    }
    (problems, versions)
}

/// Each table's column names, in order, from `CREATE TABLE [IF NOT EXISTS] name (` to the
/// line that closes it (one column per line, as both store scripts are written).
fn tables_and_columns(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut tables = std::collections::BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| w.trim_start_matches("ddl('").to_lowercase())
            .collect();
        if let Some(at) = words.iter().position(|w| w == "table")
            && words
                .get(at.wrapping_sub(1))
                .is_some_and(|w| w.ends_with("create"))
        {
            let name = words[at + 1..]
                .iter()
                .find(|w| !matches!(w.as_str(), "if" | "not" | "exists"))
                .unwrap();
            current = Some((name.clone(), Vec::new()));
            continue;
        }
        if let Some((name, columns)) = &mut current {
            let first = words.first().map_or("", String::as_str);
            if first.starts_with(')') {
                tables.insert(name.clone(), columns.clone());
                current = None;
            } else if !first.is_empty()
                && !first.starts_with("--")
                && !matches!(first, "constraint" | "primary")
            {
                columns.push(first.to_owned());
            }
        }
    }
    tables
}

#[test]
fn the_store_script_can_be_run_again_and_records_each_schema_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let oracle = std::fs::read_to_string(root.join("sql/oracle/03_store.sql")).unwrap();
    let (problems, versions) = rerun_problems(&oracle);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        versions.last().copied(),
        Some(radar_interrupcoes::store::schema::LATEST),
        "the script's last step is the version the service needs"
    );
    // Same tables and columns as SQLite's store (plus the version table both keep).
    let sqlite = std::fs::read_to_string(root.join("sql/sqlite/store.sql")).unwrap();
    let mut oracle_tables = tables_and_columns(&oracle);
    let version_table = oracle_tables.remove("radar_schema_version");
    assert_eq!(
        version_table,
        Some(vec![
            "version".into(),
            "description".into(),
            "applied_at_ms".into()
        ])
    );
    let sqlite_tables = tables_and_columns(&sqlite);
    assert_eq!(sqlite_tables.len(), 4, "{sqlite_tables:?}");
    assert_eq!(oracle_tables, sqlite_tables);
}

#[test]
fn the_rerun_checks_catch_what_a_second_run_or_an_old_oracle_would_fail_on() {
    let once_only = "WHENEVER SQLERROR EXIT FAILURE\n\
                     CREATE TABLE radar_snapshot (a NUMBER);\n\
                     CREATE TABLE IF NOT EXISTS radar_job_claim (a NUMBER);\n";
    let found = rerun_problems(once_only).0.join("\n");
    for expected in [
        "line 2: outside a PL/SQL block",
        "line 3: Oracle before 23ai has no IF NOT EXISTS",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
    let careless = "DECLARE\n  x NUMBER;\nBEGIN\n  EXECUTE IMMEDIATE 'CREATE TABLE radar_schema_version (a NUMBER)';\n\
                    EXCEPTION WHEN OTHERS THEN NULL;\nEND;\n/\n\
                    BEGIN\n  EXECUTE IMMEDIATE 'CREATE TABLE t (a NUMBER)';\n\
                    INSERT INTO radar_schema_version (version) VALUES (2, 'x');\nEND;\n/\n\
                    BEGIN\n  INSERT INTO radar_schema_version (version) VALUES (1, 'x');\nEND;\n/\n";
    let (problems, versions) = rerun_problems(careless);
    let found = problems.join("\n");
    for expected in [
        "block at line 1: WHEN OTHERS THEN NULL hides every error",
        "block at line 1: its DDL does not tolerate ORA-00955",
        "block at line 8: its DDL does not tolerate ORA-00955",
        "block at line 8: step 2 runs again when already applied",
        "block at line 8: step 2 is not committed",
        "the steps record versions [2, 1]",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
    assert_eq!(versions, vec![2, 1]);
}
