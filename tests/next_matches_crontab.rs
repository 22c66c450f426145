//! `loaxa next` agrees with crontab(5) (Vixie cron, as on Debian) on a table of expressions.
//! Every expected time was worked out by hand from crontab(5), not taken from loaxa's output.

mod common;

use common::*;

const HCM: &str = "Asia/Ho_Chi_Minh";
const BERLIN: &str = "Europe/Berlin";
/// A Monday, noon, in Vietnam.
const MON_NOON: &str = "2026-11-23T12:00:00+07:00";

/// (cron, time zone, from, expected next occurrences as local RFC 3339)
const TABLE: &[(&str, &str, &str, &[&str])] = &[
    (
        "30 5 * * *",
        HCM,
        MON_NOON,
        &["2026-11-24T05:30:00+07:00", "2026-11-25T05:30:00+07:00"],
    ),
    (
        "*/15 * * * *",
        HCM,
        MON_NOON,
        &["2026-11-23T12:15:00+07:00", "2026-11-23T12:30:00+07:00"],
    ),
    (
        "0 9-11 * * *",
        HCM,
        MON_NOON,
        &["2026-11-24T09:00:00+07:00", "2026-11-24T10:00:00+07:00"],
    ),
    (
        "0 6,18 * * *",
        HCM,
        MON_NOON,
        &["2026-11-23T18:00:00+07:00", "2026-11-24T06:00:00+07:00"],
    ),
    (
        "*/7 13 * * *",
        HCM,
        MON_NOON,
        &["2026-11-23T13:00:00+07:00", "2026-11-23T13:07:00+07:00"],
    ),
    (
        "10-40/10 12 * * *",
        HCM,
        MON_NOON,
        &["2026-11-23T12:10:00+07:00", "2026-11-23T12:20:00+07:00"],
    ),
    (
        "0/20 12 * * *",
        HCM,
        MON_NOON,
        &["2026-11-23T12:20:00+07:00", "2026-11-23T12:40:00+07:00"],
    ),
    (
        "0 8 * * mon-fri",
        HCM,
        MON_NOON,
        &["2026-11-24T08:00:00+07:00", "2026-11-25T08:00:00+07:00"],
    ),
    (
        "0 8 * jan *",
        HCM,
        MON_NOON,
        &["2027-01-01T08:00:00+07:00", "2027-01-02T08:00:00+07:00"],
    ),
    (
        "0 7 * * SUN",
        HCM,
        MON_NOON,
        &["2026-11-29T07:00:00+07:00", "2026-12-06T07:00:00+07:00"],
    ),
    // 0 and 7 are both Sunday.
    (
        "0 7 * * 0",
        HCM,
        MON_NOON,
        &["2026-11-29T07:00:00+07:00", "2026-12-06T07:00:00+07:00"],
    ),
    (
        "0 7 * * 7",
        HCM,
        MON_NOON,
        &["2026-11-29T07:00:00+07:00", "2026-12-06T07:00:00+07:00"],
    ),
    (
        "0 7 * * 5-7",
        HCM,
        MON_NOON,
        &[
            "2026-11-27T07:00:00+07:00",
            "2026-11-28T07:00:00+07:00",
            "2026-11-29T07:00:00+07:00",
        ],
    ),
    (
        "0 22 * * 1-5/2",
        HCM,
        MON_NOON,
        &["2026-11-23T22:00:00+07:00", "2026-11-25T22:00:00+07:00"],
    ),
    // Both day fields restricted: day-of-month OR day-of-week.
    (
        "0 9 1,15 * mon",
        HCM,
        MON_NOON,
        &["2026-11-30T09:00:00+07:00", "2026-12-01T09:00:00+07:00"],
    ),
    (
        "0 12 13 * fri",
        HCM,
        MON_NOON,
        &["2026-11-27T12:00:00+07:00", "2026-12-04T12:00:00+07:00"],
    ),
    (
        "0 0 1 1 1",
        HCM,
        MON_NOON,
        &["2027-01-01T00:00:00+07:00", "2027-01-04T00:00:00+07:00"],
    ),
    (
        "0 0 29 2 mon",
        HCM,
        MON_NOON,
        &["2027-02-01T00:00:00+07:00", "2027-02-08T00:00:00+07:00"],
    ),
    // A field starting with `*` (even `*/2`) makes the day rule AND: odd days that are Mondays.
    (
        "0 9 */2 * mon",
        HCM,
        MON_NOON,
        &["2026-12-07T09:00:00+07:00", "2026-12-21T09:00:00+07:00"],
    ),
    (
        "0 6 * 2 mon",
        HCM,
        MON_NOON,
        &["2027-02-01T06:00:00+07:00", "2027-02-08T06:00:00+07:00"],
    ),
    // Feb 29, short months, and a date that never comes.
    (
        "0 0 29 2 *",
        HCM,
        MON_NOON,
        &["2028-02-29T00:00:00+07:00", "2032-02-29T00:00:00+07:00"],
    ),
    (
        "0 0 31 * *",
        HCM,
        MON_NOON,
        &["2026-12-31T00:00:00+07:00", "2027-01-31T00:00:00+07:00"],
    ),
    ("0 0 31 2 *", HCM, MON_NOON, &[]),
    (
        "59 23 31 12 *",
        HCM,
        MON_NOON,
        &["2026-12-31T23:59:00+07:00", "2027-12-31T23:59:00+07:00"],
    ),
    // Optional leading seconds field.
    (
        "30 0 6 * * *",
        HCM,
        MON_NOON,
        &["2026-11-24T06:00:30+07:00", "2026-11-25T06:00:30+07:00"],
    ),
    // Strictly after `from`.
    (
        "0 12 * * *",
        HCM,
        MON_NOON,
        &["2026-11-24T12:00:00+07:00", "2026-11-25T12:00:00+07:00"],
    ),
    // Macros.
    (
        "@daily",
        HCM,
        MON_NOON,
        &["2026-11-24T00:00:00+07:00", "2026-11-25T00:00:00+07:00"],
    ),
    (
        "@hourly",
        HCM,
        MON_NOON,
        &["2026-11-23T13:00:00+07:00", "2026-11-23T14:00:00+07:00"],
    ),
    (
        "@weekly",
        HCM,
        MON_NOON,
        &["2026-11-29T00:00:00+07:00", "2026-12-06T00:00:00+07:00"],
    ),
    (
        "@monthly",
        HCM,
        MON_NOON,
        &["2026-12-01T00:00:00+07:00", "2027-01-01T00:00:00+07:00"],
    ),
    (
        "@yearly",
        HCM,
        MON_NOON,
        &["2027-01-01T00:00:00+07:00", "2028-01-01T00:00:00+07:00"],
    ),
    // DST, spring forward (02:00→03:00): a fixed time in the gap airs once, when the gap ends…
    (
        "30 2 * * *",
        BERLIN,
        "2026-03-28T12:00:00+01:00",
        &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    // …while a wildcard expression just skips the times that do not exist.
    (
        "*/30 * * * *",
        BERLIN,
        "2026-03-29T01:45:00+01:00",
        &["2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"],
    ),
    // DST, fall back (03:00→02:00): a fixed time in the fold airs once, at its first occurrence…
    (
        "30 2 * * *",
        BERLIN,
        "2026-10-25T01:00:00+02:00",
        &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
    ),
    // …while a wildcard expression airs at both (they are different instants).
    (
        "*/30 2 * * *",
        BERLIN,
        "2026-10-25T01:59:00+02:00",
        &[
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
        ],
    ),
];

#[test]
fn loaxa_next_agrees_with_crontab_on_a_table_of_expressions() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, (cron, tz, from, expected)) in TABLE.iter().enumerate() {
        let file = dir.path().join(format!("case{i}.toml"));
        std::fs::write(&file, format!("timezone = \"{tz}\"\n[[program]]\nid = \"c\"\ncron = \"{cron}\"\nitems = [\"chime\"]\n")).unwrap();
        let count = expected.len().max(2).to_string();
        let out = run(&[
            "next",
            file.to_str().unwrap(),
            "--from",
            from,
            "--count",
            &count,
        ]);
        assert!(out.status.success(), "{cron}: {}", stderr(&out));
        let got: Vec<String> = stdout(&out)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect();
        if got != *expected {
            failures.push(format!(
                "{cron:>16} ({tz}) from {from}: got {got:?}, want {expected:?}"
            ));
        }
    }
    assert!(TABLE.len() >= 30);
    assert!(
        failures.is_empty(),
        "{} of {} disagree:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

#[test]
fn next_prints_the_local_time_the_programme_id_and_its_title() {
    let out = run(&[
        "next",
        "schedules/xa-mau.toml",
        "--from",
        "2026-11-24T06:00:00+07:00",
        "--count",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "2026-11-24T17:00:00+07:00  evening  Chương trình buổi chiều\n"
    );
}
