//! `tenant-sim adsync-shell`: the shell an SSH server runs for a simulated Entra Connect
//! server's account (its `ForceCommand`, or its login shell via `-c`), standing where
//! Windows PowerShell stands on a real one. It runs what a client sends the way a Windows
//! OpenSSH server with PowerShell would, within a deliberately small subset:
//!
//! - the command is `powershell.exe` with `-NoLogo`, `-NoProfile`, `-NonInteractive` and
//!   `-EncodedCommand <base64 of UTF-16LE script>` (what `powershell.exe -?` documents);
//! - the script's lines are `$ErrorActionPreference = 'Stop'`, `Import-Module ADSync`,
//!   `$in = [Console]::In.ReadToEnd() | ConvertFrom-Json` (the client's values, read from
//!   standard input as data), and one pipeline: an ADSync cmdlet whose arguments are
//!   `$in.<property>`, numbers, bare words or verbatim ('single-quoted') strings, then
//!   `| ConvertTo-Json [-Depth N] [-Compress]`.
//!
//! Anything else (a second statement, an expandable "string", a subexpression, a backtick)
//! is refused, so a client that built its script from user data shows up here as an error,
//! not as a command that ran. Each cmdlet is answered by the running simulator over HTTP.

use std::io::{Read, Write};

use base64::Engine;
use serde_json::{Map, Value};

use super::{Answer, Invocation};

#[derive(Debug, Clone)]
pub struct ShellArgs {
    pub sim_url: String,
    pub agent_key: String,
    /// `-c <command>`; else `SSH_ORIGINAL_COMMAND`.
    pub command: Option<String>,
}

/// Runs one command: what to print on stdout, or the error for stderr (exit code 1).
pub async fn run(args: ShellArgs) -> Result<String, String> {
    let command = match args.command {
        Some(command) => command,
        None => std::env::var("SSH_ORIGINAL_COMMAND")
            .map_err(|_| "no command: this account runs PowerShell commands only".to_owned())?,
    };
    let script = decode_command_line(&command)?;
    let program = parse_script(&script)?;
    let input = if program.reads_input {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("ConvertFrom-Json : Invalid JSON primitive: {e}"))?,
        )
    } else {
        None
    };
    let invocation = program.bind(input.as_ref())?;
    let answer = call(&args.sim_url, &args.agent_key, &invocation).await?;
    match answer {
        Answer::Error(message) => Err(message),
        Answer::Output(objects) => Ok(program.render(objects)),
    }
}

/// Prints `result` as PowerShell would and gives the process's exit code.
pub fn finish(result: Result<String, String>) -> i32 {
    match result {
        Ok(text) => {
            let mut out = std::io::stdout();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            0
        }
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            1
        }
    }
}

async fn call(sim_url: &str, key: &str, invocation: &Invocation) -> Result<Answer, String> {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/connect/adsync/v1/{}",
            sim_url.trim_end_matches('/'),
            invocation.cmdlet
        ))
        .bearer_auth(key)
        .json(invocation)
        .send()
        .await
        .map_err(|e| format!("the sync service is not answering: {e}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| format!("the sync service's answer was cut: {e}"))?;
    if !status.is_success() {
        // A refusal with a message (a busy connector, say) is the cmdlet's own error.
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned));
        return Err(match message {
            Some(message) => format!("{} : {message}", invocation.cmdlet),
            None => format!("the sync service refused ({status}): {body}"),
        });
    }
    serde_json::from_str(&body).map_err(|e| format!("the sync service answered oddly: {e}"))
}

/// `powershell.exe -NoProfile ... -EncodedCommand <b64>` → the script.
fn decode_command_line(command: &str) -> Result<String, String> {
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or_default().to_ascii_lowercase();
    if !["powershell", "powershell.exe", "pwsh", "pwsh.exe"].contains(&program.as_str()) {
        return Err(format!(
            "'{program}' is not recognized as the name of a cmdlet, function, script file, or operable program."
        ));
    }
    let mut encoded = None;
    while let Some(word) = words.next() {
        match word.to_ascii_lowercase().as_str() {
            "-nologo" | "-noprofile" | "-noninteractive" => {}
            "-encodedcommand" | "-e" | "-ec" => encoded = words.next(),
            other => {
                return Err(format!(
                    "this shell runs only -EncodedCommand scripts, not '{other}'"
                ));
            }
        }
    }
    let encoded = encoded.ok_or("-EncodedCommand needs a base64 argument")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("-EncodedCommand is not base64: {e}"))?;
    if bytes.len() % 2 != 0 {
        return Err("-EncodedCommand is not UTF-16LE".into());
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| "-EncodedCommand is not UTF-16LE".into())
}

#[derive(Debug, Clone, PartialEq)]
enum Argument {
    Input(String),
    Literal(Value),
    Switch,
}

#[derive(Debug, Clone, PartialEq)]
struct Program {
    reads_input: bool,
    cmdlet: String,
    arguments: Vec<(String, Argument)>,
    json: Option<JsonOptions>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct JsonOptions {
    depth: usize,
    compress: bool,
}

const READ_INPUT: &str = "$in = [Console]::In.ReadToEnd() | ConvertFrom-Json";

fn parse_script(script: &str) -> Result<Program, String> {
    let mut reads_input = false;
    let mut pipeline = None;
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if pipeline.is_some() {
            return Err(format!("this shell runs one pipeline, last: '{line}'"));
        }
        if line.eq_ignore_ascii_case("$ErrorActionPreference = 'Stop'")
            || line.eq_ignore_ascii_case("Import-Module ADSync")
        {
            continue;
        }
        if line.eq_ignore_ascii_case(READ_INPUT) {
            reads_input = true;
            continue;
        }
        pipeline = Some(parse_pipeline(line)?);
    }
    let (cmdlet, arguments, json) = pipeline.ok_or("the script runs nothing")?;
    Ok(Program {
        reads_input,
        cmdlet,
        arguments,
        json,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Parameter(String),
    Verbatim(String),
    Input(String),
    Pipe,
}

/// PowerShell's single-quote characters: the ASCII one and four typographic ones; inside a
/// verbatim string two of them in a row stand for one.
fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            tokens.push(Token::Pipe);
        } else if is_single_quote(c) {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err("The string is missing the terminator: '.".into()),
                    Some(q) if is_single_quote(q) => {
                        if chars.peek().is_some_and(|n| is_single_quote(*n)) {
                            text.push(chars.next().unwrap_or(q));
                        } else {
                            break;
                        }
                    }
                    Some(other) => text.push(other),
                }
            }
            tokens.push(Token::Verbatim(text));
        } else if matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}') {
            return Err("this shell does not expand \"strings\"".into());
        } else if matches!(c, ';' | '`' | '(' | ')' | '{' | '}' | '@' | '&' | '>' | '<') {
            return Err(format!("this shell does not run '{c}'"));
        } else {
            let mut word = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() || n == '|' || is_single_quote(n) {
                    break;
                }
                if matches!(
                    n,
                    '"' | ';' | '`' | '(' | ')' | '{' | '}' | '@' | '&' | '>' | '<'
                ) {
                    return Err(format!("this shell does not run '{n}'"));
                }
                word.push(n);
                chars.next();
            }
            tokens.push(if let Some(property) = word.strip_prefix("$in.") {
                if property.is_empty()
                    || !property
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(format!("this shell reads only $in.<name>, not '{word}'"));
                }
                Token::Input(property.to_owned())
            } else if word.starts_with('$') {
                return Err(format!("this shell knows no variable '{word}'"));
            } else if let Some(name) = word
                .strip_prefix('-')
                .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            {
                Token::Parameter(name.to_owned())
            } else {
                Token::Word(word)
            });
        }
    }
    Ok(tokens)
}

type Pipeline = (String, Vec<(String, Argument)>, Option<JsonOptions>);

fn parse_pipeline(line: &str) -> Result<Pipeline, String> {
    let tokens = tokenize(line)?;
    let mut stages = tokens.split(|t| *t == Token::Pipe);
    let first = stages.next().unwrap_or_default();
    let (cmdlet, arguments) = parse_command(first)?;
    if !cmdlet.to_ascii_lowercase().contains("-adsync") {
        return Err(format!(
            "The term '{cmdlet}' is not recognized as the name of a cmdlet on this server."
        ));
    }
    let json = match stages.next() {
        None => None,
        Some(stage) => {
            let (name, options) = parse_command(stage)?;
            if !name.eq_ignore_ascii_case("ConvertTo-Json") {
                return Err(format!(
                    "this shell pipes only into ConvertTo-Json, not {name}"
                ));
            }
            let mut json = JsonOptions {
                depth: 2,
                compress: false,
            };
            for (option, value) in options {
                match (option.to_ascii_lowercase().as_str(), value) {
                    ("compress", Argument::Switch) => json.compress = true,
                    ("depth", Argument::Literal(Value::Number(n))) => {
                        json.depth = n.as_u64().unwrap_or(2) as usize;
                    }
                    (other, _) => return Err(format!("ConvertTo-Json has no -{other} here")),
                }
            }
            Some(json)
        }
    };
    if stages.next().is_some() {
        return Err("this shell runs at most one pipe".into());
    }
    Ok((cmdlet, arguments, json))
}

fn parse_command(tokens: &[Token]) -> Result<(String, Vec<(String, Argument)>), String> {
    let Some(Token::Word(name)) = tokens.first() else {
        return Err("a pipeline must start with a command".into());
    };
    let mut arguments = Vec::new();
    let mut rest = tokens[1..].iter().peekable();
    while let Some(token) = rest.next() {
        let Token::Parameter(parameter) = token else {
            return Err(format!(
                "{name} : positional arguments are not supported here"
            ));
        };
        let argument = match rest.peek() {
            None | Some(Token::Parameter(_)) => Argument::Switch,
            Some(_) => match rest.next() {
                Some(Token::Input(property)) => Argument::Input(property.clone()),
                Some(Token::Verbatim(text)) => Argument::Literal(Value::String(text.clone())),
                Some(Token::Word(word)) => Argument::Literal(
                    word.parse::<u64>()
                        .map_or_else(|_| Value::String(word.clone()), Value::from),
                ),
                _ => return Err(format!("{name} : -{parameter} needs a value")),
            },
        };
        arguments.push((parameter.clone(), argument));
    }
    Ok((name.clone(), arguments))
}

impl Program {
    fn bind(&self, input: Option<&Value>) -> Result<Invocation, String> {
        let mut parameters = Map::new();
        for (name, argument) in &self.arguments {
            let value = match argument {
                Argument::Switch => Value::Bool(true),
                Argument::Literal(value) => value.clone(),
                Argument::Input(property) => {
                    let value = input.and_then(|i| i.get(property)).cloned();
                    match value {
                        Some(value) if !value.is_null() => value,
                        _ => {
                            return Err(format!(
                                "{} : Cannot bind argument to parameter '{name}' because it is null.",
                                self.cmdlet
                            ));
                        }
                    }
                }
            };
            parameters.insert(name.clone(), value);
        }
        Ok(Invocation {
            cmdlet: self.cmdlet.clone(),
            parameters,
        })
    }

    /// `ConvertTo-Json`: nothing for no output, the object for one, an array for more;
    /// anything nested deeper than `-Depth` flattened to its string form, as PowerShell does.
    fn render(&self, mut objects: Vec<Value>) -> String {
        let Some(json) = self.json else {
            return String::new();
        };
        let value = match objects.len() {
            0 => return String::new(),
            1 => objects.remove(0),
            _ => Value::Array(objects),
        };
        let value = truncate(value, 0, json.depth);
        let text = if json.compress {
            serde_json::to_string(&value)
        } else {
            serde_json::to_string_pretty(&value)
        };
        text.map(|t| t + "\n").unwrap_or_default()
    }
}

/// An object `level` deep (the top one is 0) is written out while `level <= depth`, else as
/// its string form; an array's items sit at the array's own level.
fn truncate(value: Value, level: usize, depth: usize) -> Value {
    match value {
        Value::Object(map) if level > depth => Value::String(format!(
            "@{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", flat(v)))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, truncate(v, level + 1, depth)))
                .collect(),
        ),
        Value::Array(_) if level > depth => Value::String("System.Object[]".into()),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| truncate(v, level, depth))
                .collect(),
        ),
        other => other,
    }
}

fn flat(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Array(_) => "System.Object[]".into(),
        Value::Object(_) => "System.Management.Automation.PSCustomObject".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
