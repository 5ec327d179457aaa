//! Any JSON record — a request's trace, a cell's grading detail — as nested HTML tables, so a
//! trace of any shape (thinking decision, cascade steps, retrieval passages, plans) reads
//! without knowing it beforehand.

use crate::layout::esc;

/// `value` as HTML: objects as two-column tables, arrays as numbered tables, text in `<pre>`
/// when long.
pub fn json_block(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let rows: String = map
                .iter()
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), json_block(v)))
                .collect();
            format!("<table class=\"json\"><tbody>{rows}</tbody></table>")
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            let rows: String = items
                .iter()
                .enumerate()
                .map(|(i, v)| format!("<tr><th>{}</th><td>{}</td></tr>", i + 1, json_block(v)))
                .collect();
            format!("<table class=\"json\"><tbody>{rows}</tbody></table>")
        }
        serde_json::Value::String(text) if text.len() > 80 || text.contains('\n') => {
            format!("<pre>{}</pre>", esc(text))
        }
        serde_json::Value::String(text) => esc(text),
        serde_json::Value::Number(n) if n.is_f64() => {
            // Timings come as 1.4475250000000002: three decimals say all they mean.
            let x = n.as_f64().unwrap_or_default();
            format!("{x:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
        other => esc(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_records_become_tables_and_text_is_escaped() {
        let html = json_block(&serde_json::json!({
            "cascade": [{"model": "small", "escalated": true}],
            "note": "<b>",
            "ms": 1.4475250000000002
        }));
        assert!(html.contains("<th>ms</th><td>1.448</td>"), "{html}");
        assert!(html.contains("<th>cascade</th>"), "{html}");
        assert!(html.contains("<th>escalated</th><td>true</td>"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
    }
}
