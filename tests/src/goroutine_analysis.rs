//! `gotrace stats` against `go tool trace`'s goroutine analysis: the viewer's `/goroutines` page
//! (the goroutines grouped by start location, with their execution time) and the
//! `/goroutine?name=` page of each group (each goroutine's figures), read from their HTML and
//! compared with the two tables `gotrace stats` prints, figure by figure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gotrace_go_oracle::Viewer;
use regex::Regex;

use crate::cli::gotrace;

/// A table's rows as column name → cell.
type Rows = Vec<BTreeMap<String, String>>;

/// Asserts that `gotrace stats TRACE` gives each group and each goroutine the figures the viewer
/// (open on the same trace) gives them: the same groups, counts and execution times; for each
/// goroutine, the same total and the same figure in each column of its group's page (our `-`, no
/// figure, where the viewer shows `0s`), no figure where its group's page has no such column, and
/// the same range times. Returns how many goroutines were compared.
pub fn assert_stats_as_viewer(viewer: &Viewer, trace: &Path) -> usize {
    let what = trace.display();
    let stats = gotrace([Path::new("stats"), trace]);
    assert_eq!(stats.code, 0, "gotrace stats {what}: {}", stats.stderr);
    let (groups, goroutines) = our_tables(&stats.stdout);
    let ours_by_id: BTreeMap<&str, &BTreeMap<String, String>> = goroutines
        .iter()
        .map(|row| (row["Goroutine"].as_str(), row))
        .collect();

    let page = viewer.get("/goroutines").unwrap();
    let row = Regex::new(
        r#"<td><code><a href="(/goroutine\?name=[^"]*)">([^<]*)</a></code></td>\s*<td>(\d+)</td>\s*<td>([^<]*)</td>"#,
    )
    .unwrap();
    let mut go_groups = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for group in row.captures_iter(&page.body) {
        let name = unescape(&group[2]);
        go_groups.insert((name.clone(), group[3].to_owned(), group[4].to_owned()));
        let page = viewer.get(&unescape(&group[1])).unwrap();
        let tables: Vec<&str> = page
            .body
            .split("<table class=\"details\">")
            .skip(1)
            .collect();
        assert_eq!(tables.len(), 2, "{what}: the page of group {name}");
        let breakdown = viewer_table(tables[0]);
        let columns = viewer_columns(tables[0]);
        for go in &breakdown {
            let id = go["Goroutine"].as_str();
            assert!(seen.insert(id.to_owned()), "{what}: goroutine {id} twice");
            let ours = ours_by_id
                .get(id)
                .unwrap_or_else(|| panic!("{what}: goroutine {id} not in gotrace stats"));
            assert_eq!(
                ours["Start location"], name,
                "{what}: goroutine {id}'s group"
            );
            for column in &columns {
                assert_same_figure(&what, id, column, ours.get(column), &go[column]);
            }
            for (column, figure) in ours.iter() {
                let ours_only = !columns.contains(column)
                    && !["Goroutine", "Start location"].contains(&column.as_str())
                    && !column.starts_with("Range: ");
                assert!(
                    !ours_only || figure == "-",
                    "{what}: goroutine {id}: {column} is {figure}; the viewer has no such column in its group"
                );
            }
        }
        let ranges = viewer_table(tables[1]);
        let in_ranges: BTreeSet<&str> = ranges.iter().map(|r| r["Goroutine"].as_str()).collect();
        for go in &ranges {
            let id = go["Goroutine"].as_str();
            let ours = ours_by_id[id];
            for (column, figure) in go
                .iter()
                .filter(|(c, _)| !["Goroutine", "Total"].contains(&c.as_str()))
            {
                let ours = ours.get(&format!("Range: {column}"));
                assert_same_figure(&what, id, &format!("range {column}"), ours, figure);
            }
        }
        // A goroutine the viewer leaves out of its ranges spent no time in any.
        for go in &breakdown {
            let id = go["Goroutine"].as_str();
            if !in_ranges.contains(id) {
                for (column, figure) in ours_by_id[id]
                    .iter()
                    .filter(|(c, _)| c.starts_with("Range: "))
                {
                    assert!(
                        ["-", "0s"].contains(&figure.as_str()),
                        "{what}: goroutine {id}: {column} is {figure}, the viewer shows none"
                    );
                }
            }
        }
    }
    let our_groups: BTreeSet<(String, String, String)> = groups
        .iter()
        .map(|g| {
            (
                g["Start location"].clone(),
                g["Count"].clone(),
                g["Total execution time"].clone(),
            )
        })
        .collect();
    assert_eq!(our_groups, go_groups, "{what}: the groups");
    let ours: BTreeSet<String> = ours_by_id.keys().map(|&id| id.to_owned()).collect();
    assert_eq!(ours, seen, "{what}: the goroutines");
    seen.len()
}

fn assert_same_figure(
    what: &impl std::fmt::Display,
    id: &str,
    column: &str,
    ours: Option<&String>,
    go: &str,
) {
    let ours = ours.map_or("-", String::as_str);
    assert!(
        ours == go || (ours == "-" && go == "0s"),
        "{what}: goroutine {id}: {column}: gotrace stats {ours}, the viewer {go}"
    );
}

/// `gotrace stats`' two tables (after its first line, each after a blank line; its notes may
/// follow), by their header's columns: each cell starts where its header does.
fn our_tables(stdout: &str) -> (Rows, Rows) {
    let tables: Vec<&str> = stdout.split("\n\n").skip(1).collect();
    assert!((2..=3).contains(&tables.len()), "two tables in {stdout}");
    let table = |text: &str| {
        let mut lines = text.lines();
        let header = lines.next().expect("a header");
        // A column's name: words one space apart; columns are two or more apart.
        let (names, starts): (Vec<&str>, Vec<usize>) = Regex::new(r"\S+(?: \S+)*")
            .unwrap()
            .find_iter(header)
            .map(|m| (m.as_str(), header[..m.start()].chars().count()))
            .unzip();
        lines
            .map(|line| {
                let chars: Vec<char> = line.chars().collect();
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let end = starts
                            .get(i + 1)
                            .copied()
                            .unwrap_or(chars.len())
                            .min(chars.len());
                        let cell: String = chars[starts[i].min(chars.len())..end].iter().collect();
                        (name.to_string(), cell.trim().to_owned())
                    })
                    .collect()
            })
            .collect::<Rows>()
    };
    (table(tables[0]), table(tables[1]))
}

/// The column names of a viewer's table (its non-empty `<th>`s).
fn viewer_columns(table: &str) -> Vec<String> {
    let table = table.split("</table>").next().unwrap_or_default();
    Regex::new(r"<th[^>]*>([^<]*)</th>")
        .unwrap()
        .captures_iter(table)
        .map(|c| unescape(c[1].trim()))
        .filter(|name| !name.is_empty())
        .collect()
}

/// A viewer's table as rows, each cell under its column's name; the cell of bars is left out.
fn viewer_table(table: &str) -> Rows {
    let table = table.split("</table>").next().unwrap_or_default();
    let columns = viewer_columns(table);
    let tags = Regex::new(r"<[^>]*>").unwrap();
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .filter(|cell| !cell.contains("stacked-bar-graph"))
                .map(|cell| {
                    let cell = cell.split_once('>').map_or("", |(_, c)| c);
                    let cell = cell.split("</td>").next().unwrap_or_default();
                    unescape(tags.replace_all(cell, "").trim())
                })
                .collect();
            assert_eq!(
                cells.len(),
                columns.len(),
                "a row of the viewer's table: {row}"
            );
            columns.iter().cloned().zip(cells).collect()
        })
        .collect()
}

/// Text as `html/template` escaped it.
fn unescape(html: &str) -> String {
    Regex::new(r"&(amp|lt|gt|quot|#(\d+));")
        .unwrap()
        .replace_all(html, |c: &regex::Captures<'_>| match &c[1] {
            "amp" => "&".to_owned(),
            "lt" => "<".to_owned(),
            "gt" => ">".to_owned(),
            "quot" => "\"".to_owned(),
            _ => char::from_u32(c[2].parse().unwrap()).unwrap().to_string(),
        })
        .into_owned()
}
