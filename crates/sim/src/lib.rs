//! Joule's simulations, deterministic by seed.
//!
//! - [`waveform`]: mains voltage and load currents at waveform level (sines, harmonics,
//!   phase-angle dimmers, switch-mode supplies, loads switching on and off, frequency drift),
//!   sampled through a model of a real ADC front end (resolution, DC bias, noise, channel
//!   delay). It is how the metrology chain is proved and benchmarked.
//! - [`household`]: a home's appliances and habits over days and seasons (solar, EV, heat
//!   pump), as loads for the waveform model: what a simulated meter measures.
//! - [`fleet`]: register-level meters on those households, integrating power into
//!   integer registers and reporting live readings and interval records as a meter does:
//!   thousands of meters, or months of history, without waveforms.
//! - [`accuracy`]: the IEC 62053-21/-22 test points and real-load cases built on it, and the
//!   runner that meters them and compares with the truth.
pub mod accuracy;
pub mod fleet;
pub mod household;
pub mod waveform;
