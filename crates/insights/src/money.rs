//! Prices in and amounts out, with the currency the caller chose, so that a sentence like
//! "saves €4.10" needs no knowledge of the tariff behind it.

use serde::{Deserialize, Serialize};

/// A flat energy price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Price of one kWh, in `currency`.
    pub per_kwh: f64,
    /// A symbol ("€", "£") or an ISO 4217 code ("EUR", "CHF").
    pub currency: String,
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    /// The amount, in `currency` (not rounded).
    pub amount: f64,
    /// A symbol or an ISO 4217 code, as given.
    pub currency: String,
}

impl Money {
    /// `amount` in `currency`.
    pub fn new(amount: f64, currency: &str) -> Self {
        Self {
            amount,
            currency: currency.to_owned(),
        }
    }

    /// The amount for people, to the cent: "€4.10" with a symbol, "4.10 CHF" with a code.
    pub fn display(&self) -> String {
        let sign = if self.amount < 0.0 { "-" } else { "" };
        let amount = format!("{:.2}", self.amount.abs());
        let is_code =
            self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if is_code {
            format!("{sign}{amount} {}", self.currency)
        } else {
            format!("{sign}{}{amount}", self.currency)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_go_before_and_codes_after() {
        assert_eq!(Money::new(4.099, "€").display(), "€4.10");
        assert_eq!(Money::new(12.5, "CHF").display(), "12.50 CHF");
        assert_eq!(Money::new(-0.5, "£").display(), "-£0.50");
    }
}
