//! The `command_payload` target: any bytes a meter may find on its `cmd` topic go through
//! `decode_downlink`, the code the meter runs before it acts on a command. It must never
//! panic, and a payload it accepts must be a command whose own encoding decodes to the
//! same command (nothing is lost or reinterpreted between the hub and the meter).

use joule_protocol::{Downlink, TopicKind, decode_downlink, encode};

/// Checks one input.
pub(crate) fn run(data: &[u8]) {
    let Ok(decoded) = decode_downlink(TopicKind::Command, data) else {
        return;
    };
    let Downlink::Command(command) = decoded else {
        panic!("a cmd topic decoded to something other than a command");
    };
    let again = decode_downlink(TopicKind::Command, &encode(&command))
        .expect("an accepted command re-encodes to a payload that decodes");
    assert_eq!(again, Downlink::Command(command));
}
