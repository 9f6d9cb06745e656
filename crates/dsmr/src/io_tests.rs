//! Tests of the readers: port specs, a reader over an in-memory pipe, a real TCP gateway on
//! loopback and a real serial line (a pseudo-terminal pair).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_serial::SerialPort;

use super::*;
use crate::parser::parse;

const DSMR22: &[u8] = include_bytes!("../tests/telegrams/dsmr22.txt");
const DSMR5: &[u8] = include_bytes!("../tests/telegrams/dsmr5.txt");

#[test]
fn port_specs_name_tcp_gateways_and_serial_devices() {
    assert_eq!(
        PortSpec::parse("tcp://p1-dongle.local:23").ok(),
        Some(PortSpec::Tcp {
            addr: "p1-dongle.local:23".into()
        })
    );
    assert_eq!(
        PortSpec::parse("tcp://[::1]:2001").ok(),
        Some(PortSpec::Tcp {
            addr: "[::1]:2001".into()
        })
    );
    assert_eq!(
        PortSpec::parse("/dev/ttyUSB0").ok(),
        Some(PortSpec::Serial {
            path: "/dev/ttyUSB0".into(),
            baud: 115_200,
            framing: SerialFraming::EightNoneOne
        })
    );
    assert_eq!(
        PortSpec::parse("/dev/ttyUSB1?baud=9600").ok(),
        Some(PortSpec::Serial {
            path: "/dev/ttyUSB1".into(),
            baud: 9600,
            framing: SerialFraming::SevenEvenOne
        })
    );
    for (spec, reason) in [
        ("tcp://host", "no :port"),
        ("tcp://:23", "not tcp://host:port"),
        ("tcp://host:99999", "not tcp://host:port"),
        (
            "udp://host:23",
            "only tcp:// and serial device paths are supported",
        ),
        ("", "no device path"),
        ("?baud=9600", "no device path"),
        ("/dev/ttyUSB0?speed=9600", "the only option is ?baud=N"),
        ("/dev/ttyUSB0?baud=fast", "baud is not a positive integer"),
        ("/dev/ttyUSB0?baud=0", "baud is not a positive integer"),
    ] {
        match PortSpec::parse(spec) {
            Err(OpenError::Spec {
                spec: named,
                reason: why,
            }) => {
                assert_eq!((named.as_str(), why), (spec, reason));
            }
            other => panic!("{spec:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_reader_yields_telegrams_and_errors_then_ends() {
    let (mut writer, reader) = tokio::io::duplex(64);
    let mut corrupt = DSMR5.to_vec();
    corrupt[200] ^= 0x02;
    let feeder = tokio::spawn(async move {
        let mut stream = b"tail of a telegram\r\n!ABCD\r\n".to_vec();
        stream.extend_from_slice(DSMR5);
        stream.extend_from_slice(&corrupt);
        stream.extend_from_slice(DSMR22);
        stream.extend_from_slice(&DSMR5[..100]);
        for chunk in stream.chunks(37) {
            writer.write_all(chunk).await.expect("pipe open");
        }
    });
    let mut reader = TelegramReader::new("pipe", reader);
    let mut seen = Vec::new();
    while let Some(result) = reader.next_telegram().await {
        seen.push(result);
    }
    feeder.await.expect("feeder");
    let described: Vec<String> = seen
        .iter()
        .map(|r| match r {
            Ok(t) => format!("ok {}", t.header),
            Err(err) => err.to_string(),
        })
        .collect();
    assert_eq!(described.len(), 5, "{described:#?}");
    assert_eq!(
        described[0],
        "P1 port pipe: 20 bytes outside any telegram discarded"
    );
    assert_eq!(seen[1].as_ref().ok(), parse(DSMR5).ok().as_ref());
    assert!(
        described[2].starts_with("P1 port pipe: CRC mismatch"),
        "{}",
        described[2]
    );
    assert_eq!(described[3], "ok ISk5\\2MT382-1004");
    assert_eq!(
        described[4], "P1 port pipe: telegram truncated: no closing '!' in 100 bytes",
        "the stream ended inside a telegram"
    );
    assert!(reader.next_telegram().await.is_none(), "stays ended");
}

#[tokio::test]
async fn open_reads_from_a_tcp_gateway() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let gateway = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        for _ in 0..3 {
            socket.write_all(DSMR5).await.expect("write");
        }
    });
    let mut reader = open(&format!("tcp://{addr}")).await.expect("connect");
    assert_eq!(reader.port(), format!("tcp://{addr}"));
    for _ in 0..3 {
        let telegram = reader
            .next_telegram()
            .await
            .expect("a telegram")
            .expect("valid");
        assert_eq!(telegram.import_tariff1_wh, Some(4_512_671));
    }
    gateway.await.expect("gateway");
    assert!(reader.next_telegram().await.is_none(), "the gateway closed");
}

#[tokio::test]
async fn open_errors_name_the_port() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = open(&format!("tcp://{addr}"))
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, OpenError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("P1 gateway tcp://{addr}: ")),
        "{err}"
    );

    let err = open("/dev/joule-no-such-p1-port")
        .await
        .expect_err("no such device");
    assert!(matches!(err, OpenError::Serial { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("P1 serial port /dev/joule-no-such-p1-port: "),
        "{err}"
    );
}

#[tokio::test]
async fn open_reads_a_serial_line_at_9600_7e1() {
    // A pseudo-terminal pair stands in for the P1 cable: the meter writes into one end, and
    // `open` configures and reads the other by its device path, as it would /dev/ttyUSB0.
    let (mut meter, cable) = SerialStream::pair().expect("pseudo-terminal pair");
    let path = cable.name().expect("the cable end has a device path");
    // Closed so that `open` can take its own exclusive lock on the device.
    drop(cable);
    let mut reader = open(&format!("{path}?baud=9600"))
        .await
        .expect("open the device");
    meter.write_all(DSMR22).await.expect("write");
    let telegram = reader
        .next_telegram()
        .await
        .expect("a telegram")
        .expect("valid");
    assert_eq!(telegram, parse(DSMR22).expect("fixture"));
    assert_eq!(reader.port(), path);
}
