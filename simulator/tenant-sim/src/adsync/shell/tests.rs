use base64::Engine;
use serde_json::json;

use super::*;

fn encoded(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    format!(
        "powershell.exe -NoLogo -NoProfile -NonInteractive -EncodedCommand {}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[test]
fn a_script_with_values_from_standard_input_binds_them_as_data() {
    let script = "$ErrorActionPreference = 'Stop'\n$in = [Console]::In.ReadToEnd() | ConvertFrom-Json\nGet-ADSyncCSObject -ConnectorName $in.connector -DistinguishedName $in.dn | ConvertTo-Json -Depth 3 -Compress\n";
    let program = parse_script(&decode_command_line(&encoded(script)).unwrap()).unwrap();
    let hostile = "CN=O'Brien; Start-ADSyncSyncCycle $(x) `\"\",OU=Staff";
    let invocation = program
        .bind(Some(
            &json!({ "connector": "corp.example.com", "dn": hostile }),
        ))
        .unwrap();
    assert_eq!(invocation.cmdlet, "Get-ADSyncCSObject");
    assert_eq!(invocation.parameters["DistinguishedName"], json!(hostile));
    assert_eq!(
        program.json,
        Some(JsonOptions {
            depth: 3,
            compress: true
        })
    );
}

#[test]
fn verbatim_strings_double_every_kind_of_single_quote() {
    let (_, arguments, _) =
        parse_pipeline("Get-ADSyncConnector -Name 'O''Brien \u{2019}\u{2019}s $x; `n'").unwrap();
    assert_eq!(
        arguments,
        vec![(
            "Name".to_owned(),
            Argument::Literal(json!("O'Brien \u{2019}s $x; `n"))
        )]
    );
}

#[test]
fn a_script_built_from_user_data_is_refused_not_run() {
    for line in [
        "Get-ADSyncCSObject -DistinguishedName 'CN=O'Brien' ; Start-ADSyncSyncCycle",
        "Get-ADSyncCSObject -DistinguishedName \"CN=$env:x\"",
        "Get-ADSyncCSObject -DistinguishedName $(Start-ADSyncSyncCycle)",
        "Get-ADSyncCSObject -DistinguishedName 'x' | Remove-Item",
        "Remove-Item -Path C",
        "Get-ADSyncScheduler; Start-ADSyncSyncCycle -PolicyType Delta",
    ] {
        assert!(parse_pipeline(line).is_err(), "{line}");
    }
    let two = "Get-ADSyncScheduler | ConvertTo-Json\nStart-ADSyncSyncCycle -PolicyType Delta";
    assert!(parse_script(two).is_err());
    assert!(decode_command_line("powershell.exe -Command Get-ADSyncScheduler").is_err());
    assert!(decode_command_line("bash -c id").is_err());
}

#[test]
fn a_missing_input_value_is_powershells_null_binding_error() {
    let program = parse_script(
        "$in = [Console]::In.ReadToEnd() | ConvertFrom-Json\nGet-ADSyncConnector -Name $in.name | ConvertTo-Json",
    )
    .unwrap();
    let error = program.bind(Some(&json!({}))).unwrap_err();
    assert!(error.contains("because it is null"), "{error}");
}

#[test]
fn convert_to_json_writes_one_object_bare_many_as_an_array_none_as_nothing() {
    let program = parse_script("Get-ADSyncScheduler | ConvertTo-Json -Compress").unwrap();
    assert_eq!(program.render(vec![]), "");
    assert_eq!(program.render(vec![json!({"a": 1})]), "{\"a\":1}\n");
    assert_eq!(
        program.render(vec![json!({"a": 1}), json!({"a": 2})]),
        "[{\"a\":1},{\"a\":2}]\n"
    );
}

#[test]
fn convert_to_json_flattens_what_lies_deeper_than_its_depth() {
    let program = parse_script("Get-ADSyncScheduler | ConvertTo-Json -Depth 1 -Compress").unwrap();
    let text = program.render(vec![
        json!({"a": {"b": {"c": 1}}, "list": [{"x": {"y": 2}}]}),
    ]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["a"]["b"], json!("@{c=1}"));
    assert_eq!(value["list"][0]["x"], json!("@{y=2}"));
}
