//! Converts any Mesos v1 message between Mesos JSON and protobuf.
//!
//! Reads stdin; JSON in gives protobuf (hex) out, anything else is taken
//! as protobuf and printed as JSON:
//!
//! ```text
//! echo '{"type":"HEARTBEAT"}' | cargo run -p mesos-examples --example convert -- mesos.v1.scheduler.Event
//! ```

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(type_name) = std::env::args().nth(1) else {
        eprintln!("usage: convert <message type, e.g. mesos.v1.scheduler.Event> < input");
        return ExitCode::from(2);
    };
    let Some(ty) = mesos_proto::dynamic::message_type(&type_name) else {
        eprintln!("no message type {type_name} in the Mesos v1 API");
        return ExitCode::from(2);
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let looks_like_json = input.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let result = if looks_like_json {
        ty.json_to_protobuf(&input)
            .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    } else {
        ty.protobuf_to_json(&input)
            .map(|json| String::from_utf8_lossy(&json).into_owned())
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{type_name}: {e}");
            ExitCode::FAILURE
        }
    }
}
