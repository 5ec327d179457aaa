//! Captured log rows made into items: each row's capture record read back through the gateway's
//! own parser; rows that cannot be items are counted by reason.

use understudy_store::RequestRow;

use crate::item::{Skipped, TrafficItem};

/// The items of `rows` (captured rows; others are counted as not captured), and what was left
/// out and why. A request repeated with the same turns in one conversation is kept once.
pub fn items(rows: &[RequestRow]) -> (Vec<TrafficItem>, Skipped) {
    let mut skipped = Skipped::new();
    let mut items: Vec<TrafficItem> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let mut skip = |why: &str| *skipped.entry(why.to_string()).or_default() += 1;
        let Some(record) = &row.capture else {
            skip("not captured (or its capture was cleared by retention)");
            continue;
        };
        let captured = match understudy_serve::capture_read::read(record) {
            Ok(c) => c,
            Err(why) => {
                skip(&format!("unreadable capture: {why}"));
                continue;
            }
        };
        if captured.continues_stored {
            skip("continues a stored response (previous_response_id): its earlier turns are not in the capture");
            continue;
        }
        let Some((text, calls)) = captured.answer else {
            skip("the request got no answer");
            continue;
        };
        let source = format!("log {}", row.at.clone().unwrap_or_default());
        match TrafficItem::new(
            captured.conversation,
            &captured.request,
            &text,
            calls,
            source,
        ) {
            Ok(item) if seen.insert(item.id.clone()) => items.push(item),
            Ok(_) => skip("the same request again in its conversation"),
            Err(why) => skip(why),
        }
    }
    (items, skipped)
}
