//! The PowerShell sync-trigger runs on a Connect server. Each script is fixed text: no value
//! from a request is ever written into it. The values travel as JSON on standard input, read
//! by the script with `ConvertFrom-Json` and bound to parameters as data, so a DN holding
//! quotes, `$`, backticks or `;` is only ever a string. Each result leaves through
//! `ConvertTo-Json`.
//!
//! The script reaches Windows PowerShell as `-EncodedCommand` (base64 of its UTF-16LE text,
//! as `powershell.exe -?` documents), so the command line holds nothing any shell in between
//! would interpret, whichever default shell the server's OpenSSH runs (`domain.md` 3.7).

use base64::Engine;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script {
    /// The cmdlet, for errors.
    pub cmdlet: &'static str,
    body: &'static str,
    reads_input: bool,
}

const PRELUDE: &str = "$ErrorActionPreference = 'Stop'\nImport-Module ADSync\n";
const READ_INPUT: &str = "$in = [Console]::In.ReadToEnd() | ConvertFrom-Json\n";

macro_rules! script {
    ($name:ident, $cmdlet:literal, $body:literal) => {
        pub const $name: Script = Script {
            cmdlet: $cmdlet,
            body: $body,
            reads_input: false,
        };
    };
    ($name:ident, $cmdlet:literal, $body:literal, input) => {
        pub const $name: Script = Script {
            cmdlet: $cmdlet,
            body: $body,
            reads_input: true,
        };
    };
}

script!(
    SCHEDULER,
    "Get-ADSyncScheduler",
    "Get-ADSyncScheduler | ConvertTo-Json -Depth 3 -Compress"
);
script!(
    RUN_STATUS,
    "Get-ADSyncConnectorRunStatus",
    "Get-ADSyncConnectorRunStatus | ConvertTo-Json -Depth 2 -Compress"
);
script!(
    DELETION_THRESHOLD,
    "Get-ADSyncExportDeletionThreshold",
    "Get-ADSyncExportDeletionThreshold | ConvertTo-Json -Depth 2 -Compress"
);
script!(
    GLOBAL_SETTINGS,
    "Get-ADSyncGlobalSettings",
    "Get-ADSyncGlobalSettings | ConvertTo-Json -Depth 3 -Compress"
);
script!(
    CONNECTOR,
    "Get-ADSyncConnector",
    "Get-ADSyncConnector -Name $in.name | ConvertTo-Json -Depth 5 -Compress",
    input
);
script!(
    RUN_HISTORY,
    "Get-ADSyncRunProfileResult",
    "Get-ADSyncRunProfileResult -NumberRequested $in.number -RunStepDetails | ConvertTo-Json -Depth 4 -Compress",
    input
);
script!(
    CS_OBJECT,
    "Get-ADSyncCSObject",
    "Get-ADSyncCSObject -ConnectorName $in.connector -DistinguishedName $in.dn | ConvertTo-Json -Depth 3 -Compress",
    input
);
script!(
    START_CYCLE,
    "Start-ADSyncSyncCycle",
    "Start-ADSyncSyncCycle -PolicyType $in.policyType | ConvertTo-Json -Compress",
    input
);

impl Script {
    pub fn text(&self) -> String {
        let input = if self.reads_input { READ_INPUT } else { "" };
        format!("{PRELUDE}{input}{}\n", self.body)
    }

    /// The command line the SSH server is asked to run.
    pub fn command_line(&self) -> String {
        let utf16: Vec<u8> = self
            .text()
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        format!(
            "powershell.exe -NoLogo -NoProfile -NonInteractive -EncodedCommand {}",
            base64::engine::general_purpose::STANDARD.encode(utf16)
        )
    }

    /// What goes on standard input: the values as one JSON object (nothing for a script
    /// that reads none).
    pub fn input(&self, values: &Value) -> Vec<u8> {
        if self.reads_input {
            values.to_string().into_bytes()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_the_same_whatever_the_values_and_holds_only_base64() {
        let line = CS_OBJECT.command_line();
        let encoded = line.rsplit(' ').next().unwrap();
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        );
        let hostile = serde_json::json!({ "connector": "corp", "dn": "CN=O'Brien; $(Remove-Item C:\\) `\",OU=x" });
        let input = String::from_utf8(CS_OBJECT.input(&hostile)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&input).unwrap(),
            hostile,
            "the value travels as data"
        );
        assert!(!CS_OBJECT.text().contains("O'Brien"));
    }
}
