//! The paired tests at a margin, the flip table and McNemar's exact test against values scipy
//! and statsmodels computed (`scripts/reference/paired_tests_fixture.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use understudy_report::paired_tests::{equivalence, flips, regression, share_at_least};
use understudy_report::stats::mcnemar_exact;

fn close(got: f64, want: f64, what: &str, case: &str) {
    let tolerance = 1e-9 + 1e-7 * want.abs();
    assert!(
        (got - want).abs() <= tolerance,
        "{case}: {what} is {got}, scipy/statsmodels say {want}"
    );
}

fn numbers(value: &serde_json::Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[test]
fn agree_with_scipy_and_statsmodels() {
    let text = include_str!("fixtures/paired_tests.json");
    let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let a = numbers(&case["a"]);
        let b = numbers(&case["b"]);
        let margin = case["margin"].as_f64().unwrap();
        let share = case["share"].as_f64().unwrap();

        let tost = equivalence(&a, &b, margin).unwrap();
        let want = &case["tost"];
        close(tost.p_value, want["p"].as_f64().unwrap(), "TOST p", name);
        close(
            tost.lower.t,
            want["t_lower"].as_f64().unwrap(),
            "lower t",
            name,
        );
        close(
            tost.lower.p_value,
            want["p_lower"].as_f64().unwrap(),
            "lower p",
            name,
        );
        close(
            tost.upper.t,
            want["t_upper"].as_f64().unwrap(),
            "upper t",
            name,
        );
        close(
            tost.upper.p_value,
            want["p_upper"].as_f64().unwrap(),
            "upper p",
            name,
        );
        close(tost.lower.df, want["df"].as_f64().unwrap(), "df", name);
        let interval = numbers(&want["interval"]);
        close(tost.interval.0, interval[0], "90% interval low", name);
        close(tost.interval.1, interval[1], "90% interval high", name);
        // Equivalence is shown exactly when the 90% interval lies inside ±margin.
        assert_eq!(
            tost.shown(),
            interval[0] > -margin && interval[1] < margin,
            "{name}"
        );

        let r = regression(&a, &b, margin).unwrap();
        close(
            r.t,
            case["regression"]["t"].as_f64().unwrap(),
            "regression t",
            name,
        );
        close(
            r.p_value,
            case["regression"]["p"].as_f64().unwrap(),
            "regression p",
            name,
        );

        let s = share_at_least(&a, &b, share).unwrap();
        close(
            s.t,
            case["share_at_least"]["t"].as_f64().unwrap(),
            "share t",
            name,
        );
        close(
            s.p_value,
            case["share_at_least"]["p"].as_f64().unwrap(),
            "share p",
            name,
        );

        let items: Vec<String> = (0..a.len()).map(|i| format!("item-{i}")).collect();
        let table = flips(&items, &a, &b);
        let want = &case["flips"];
        let ids = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(table.worse, ids(&want["worse"]), "{name}");
        assert_eq!(table.better, ids(&want["better"]), "{name}");
        assert_eq!(table.ties as u64, want["ties"].as_u64().unwrap(), "{name}");

        if let Some(m) = case.get("mcnemar_exact") {
            let (only_a, only_b) = (m["only_a"].as_u64().unwrap(), m["only_b"].as_u64().unwrap());
            assert_eq!(only_a as usize, table.worse.len(), "{name}");
            assert_eq!(only_b as usize, table.better.len(), "{name}");
            close(
                mcnemar_exact(only_a as usize, only_b as usize),
                m["p"].as_f64().unwrap(),
                "McNemar exact p",
                name,
            );
        }
    }
}

#[test]
fn the_fixture_holds_each_verdict() {
    // The cases were drawn so that each outcome a user can see occurs at least once.
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/paired_tests.json")).unwrap();
    let verdicts: Vec<(bool, bool)> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let (a, b) = (numbers(&c["a"]), numbers(&c["b"]));
            let m = c["margin"].as_f64().unwrap();
            (
                equivalence(&a, &b, m).unwrap().shown(),
                regression(&a, &b, m).unwrap().p_value < 0.05,
            )
        })
        .collect();
    assert!(verdicts.contains(&(true, false)), "{verdicts:?}");
    assert!(verdicts.contains(&(false, true)), "{verdicts:?}");
    assert!(verdicts.contains(&(false, false)), "{verdicts:?}");
}
