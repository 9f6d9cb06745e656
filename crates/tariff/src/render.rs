//! A bill as a printable HTML page.
//!
//! Customers read bills on paper and in the portal; this renders one self-contained page
//! (inline CSS, no scripts, no external resources) that prints cleanly on A4 or Letter.
//! Every piece of text from outside (meter id, plan name, descriptions) is escaped.

use crate::bill::{Bill, Line};
use crate::intervals::{Finding, Register};
use crate::money::{format_kwh, format_minor, format_scaled};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::fmt::Write;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#111;margin:2em auto;max-width:60em;padding:0 1em}\
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.5em 0 .4em;border-bottom:1px solid #999}\
table{border-collapse:collapse;width:100%}th,td{padding:.25em .5em;border-bottom:1px solid #ddd;vertical-align:top}\
th{text-align:left;background:#f2f2f2}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
tr.total td{font-weight:bold;border-top:2px solid #111}p.meta{margin:.1em 0;color:#333}\
ul.findings li{margin:.2em 0}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Local wall-clock time of an instant in the bill's zone (UTC if the zone is unknown).
fn local(zone: &TimeZone, at: Timestamp) -> String {
    zone.to_offset(at)
        .to_datetime(at)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// Renders a bill as a complete HTML document.
pub fn render_html(bill: &Bill) -> String {
    let zone = TimeZone::get(&bill.time_zone).unwrap_or(TimeZone::UTC);
    let digits = bill.currency_digits;
    let money = |minor: i64| format_minor(minor, digits);
    let currency = escape(&bill.currency);
    let mut html = String::with_capacity(8 * 1024);
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Bill {meter} {from}</title><style>{STYLE}</style></head><body>\n\
         <h1>Electricity bill</h1>\n\
         <p class=\"meta\">Meter <strong>{meter}</strong>, plan <strong>{plan}</strong></p>\n\
         <p class=\"meta\">From {from} to {to} ({zone_name})</p>\n",
        meter = escape(&bill.meter),
        plan = escape(&bill.plan),
        from = local(&zone, bill.period.start()),
        to = local(&zone, bill.period.end()),
        zone_name = escape(&bill.time_zone),
    );
    html.push_str(
        "<h2>Charges</h2>\n<table><thead><tr><th>Description</th><th class=\"n\">Quantity</th>\
         <th>Unit</th><th class=\"n\">Unit price</th><th class=\"n\">Amount</th></tr></thead><tbody>\n",
    );
    for line in &bill.lines {
        line_row(&mut html, line, &money);
    }
    let _ = write!(
        html,
        "<tr><td colspan=\"4\">Before taxes</td><td class=\"n\">{before}</td></tr>\n\
         <tr><td colspan=\"4\">Taxes</td><td class=\"n\">{taxes}</td></tr>\n\
         <tr class=\"total\"><td colspan=\"4\">Total ({currency})</td><td class=\"n\">{total}</td></tr>\n\
         </tbody></table>\n",
        before = money(bill.subtotals.before_taxes_minor),
        taxes = money(bill.subtotals.taxes_minor),
        total = money(bill.total_minor),
    );
    energy_table(&mut html, bill);
    if let Some(net) = &bill.net_metering {
        let _ = write!(
            html,
            "<h2>Net metering</h2>\n<table><tbody>\n\
             <tr><td>Credit carried in</td><td class=\"n\">{} kWh</td></tr>\n\
             <tr><td>Exported</td><td class=\"n\">{} kWh</td></tr>\n\
             <tr><td>Import offset</td><td class=\"n\">{} kWh</td></tr>\n\
             <tr><td>True-up{}</td><td class=\"n\">{} kWh paid, {} kWh forfeited</td></tr>\n\
             <tr><td>Credit carried forward</td><td class=\"n\">{} kWh</td></tr>\n</tbody></table>\n",
            format_kwh(net.credit_in_mwh),
            format_kwh(net.exported_mwh),
            format_kwh(net.offset_mwh),
            if net.true_up {
                " (this bill)"
            } else {
                " (not this bill)"
            },
            format_kwh(net.paid_mwh),
            format_kwh(net.forfeited_mwh),
            format_kwh(net.credit_out_mwh),
        );
    }
    if !bill.demand_peaks.is_empty() {
        html.push_str("<h2>Highest demand</h2>\n<ul>\n");
        for peak in &bill.demand_peaks {
            let _ = writeln!(
                html,
                "<li>{} kW in the 15 minutes from {}</li>",
                format_scaled(i128::from(peak.power_w), 3),
                local(&zone, peak.start)
            );
        }
        html.push_str("</ul>\n");
    }
    if !bill.findings.is_empty() {
        html.push_str("<h2>Notes on the data</h2>\n<ul class=\"findings\">\n");
        for finding in &bill.findings {
            let _ = writeln!(html, "<li>{}</li>", escape(&describe(finding, &zone)));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn line_row(html: &mut String, line: &Line, money: &dyn Fn(i64) -> String) {
    let _ = writeln!(
        html,
        "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        escape(&line.description),
        escape(&line.quantity),
        escape(&line.unit),
        escape(&line.unit_price),
        money(line.amount_minor),
    );
}

fn energy_table(html: &mut String, bill: &Bill) {
    let optional = |value: Option<i64>| value.map_or_else(|| "–".to_owned(), format_kwh);
    html.push_str(
        "<h2>Energy (kWh)</h2>\n<table><thead><tr><th></th><th class=\"n\">Registers</th>\
         <th class=\"n\">Interval data</th><th class=\"n\">Difference</th><th class=\"n\">Billed</th></tr></thead><tbody>\n",
    );
    for (name, energy) in [
        ("Import", &bill.energy.import),
        ("Export", &bill.energy.export),
    ] {
        let _ = writeln!(
            html,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            optional(energy.register_mwh),
            format_kwh(energy.intervals_mwh),
            optional(energy.difference_mwh),
            format_kwh(energy.billed_mwh),
        );
    }
    html.push_str("</tbody></table>\n");
    let estimated = &bill.estimated;
    if estimated.intervals > 0 {
        let _ = writeln!(
            html,
            "<p class=\"meta\">Estimated: {} intervals, {} kWh import, {} kWh export.</p>",
            estimated.intervals,
            format_kwh(estimated.import_mwh),
            format_kwh(estimated.export_mwh),
        );
    }
}

fn register_name(register: Register) -> &'static str {
    match register {
        Register::Import => "import",
        Register::Export => "export",
    }
}

/// A finding in words.
fn describe(finding: &Finding, zone: &TimeZone) -> String {
    let at = |instant: &Timestamp| local(zone, *instant);
    match finding {
        Finding::Gap { start, end } => {
            format!("No interval data from {} to {}.", at(start), at(end))
        }
        Finding::Overlap { start, overlap_s } => {
            format!(
                "The interval at {} overlaps the previous one by {overlap_s} s.",
                at(start)
            )
        }
        Finding::Spike {
            start,
            register,
            energy_mwh,
            limit_mwh,
            ..
        } => format!(
            "Unusually high {} at {}: {} kWh (limit {} kWh).",
            register_name(*register),
            at(start),
            format_kwh(*energy_mwh),
            format_kwh(*limit_mwh)
        ),
        Finding::Frozen {
            start,
            end,
            intervals,
            energy_mwh,
        } => format!(
            "The same import of {} kWh in {intervals} intervals from {} to {}.",
            format_kwh(*energy_mwh),
            at(start),
            at(end)
        ),
        Finding::Negative {
            start,
            register,
            energy_mwh,
        } => format!(
            "Negative {} of {} kWh at {}.",
            register_name(*register),
            format_kwh(*energy_mwh),
            at(start)
        ),
        Finding::Misaligned { start, duration_s } => {
            format!(
                "The interval at {} is not aligned to its length of {duration_s} s.",
                at(start)
            )
        }
        Finding::Future { start } => format!("The interval at {} lies in the future.", at(start)),
        Finding::ZeroLength { start } => format!(
            "An interval at {} has no length and was ignored.",
            at(start)
        ),
        Finding::OutsidePeriod { intervals } => {
            format!("{intervals} intervals outside the period were ignored.")
        }
        Finding::NoIntervalData { register } => format!(
            "No interval data for {}: the register reading was spread evenly over the period.",
            register_name(*register)
        ),
        Finding::Unreconciled {
            register,
            difference_mwh,
        } => format!(
            "The {} register and the interval data differ by {} kWh.",
            register_name(*register),
            format_kwh(*difference_mwh)
        ),
        Finding::FallbackPrice {
            start,
            end,
            price_per_kwh,
        } => format!(
            "No market price from {} to {}: the fallback price {price_per_kwh} per kWh was used.",
            at(start),
            at(end)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b>\"R&D\" 'x'</b>"),
            "&lt;b&gt;&quot;R&amp;D&quot; &#39;x&#39;&lt;/b&gt;"
        );
    }
}
