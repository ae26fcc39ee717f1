//! The grammar of each system's ticket keys, checked before a key goes anywhere near a REST
//! path or a query: a key that does not fit is malformed input, never a path.

/// A Jira issue key: a project key (a letter, then letters, digits or `_`; Jira's default
/// pattern, upper case, lower case accepted for instances that allow it), `-`, and the issue's
/// number. At most 255 characters.
pub fn is_jira_key(key: &str) -> bool {
    let Some((project, number)) = key.rsplit_once('-') else {
        return false;
    };
    let mut letters = project.chars();
    key.len() <= 255
        && letters.next().is_some_and(|c| c.is_ascii_alphabetic())
        && letters.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && !number.starts_with('0')
}

/// A ServiceNow record number: letters then digits (`INC0010001`, `RITM0001234`), at most 40
/// characters.
pub fn is_servicenow_number(number: &str) -> bool {
    let digits_from = number
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(number.len());
    let (prefix, digits) = number.split_at(digits_from);
    number.len() <= 40
        && !prefix.is_empty()
        && prefix.chars().all(|c| c.is_ascii_alphabetic())
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_fit_each_grammar_pass_and_path_tricks_do_not() {
        for good in ["HELP-42", "CZ-2", "A_B2-1", "help-7"] {
            assert!(is_jira_key(good), "{good}");
        }
        for bad in [
            "NOPE/../CZ-2",
            "HELP-42/comment",
            "HELP-",
            "-42",
            "2HELP-1",
            "HELP-042",
            "HELP-4%32",
            "HELP 42",
            "HELP-42?x=1",
            "",
        ] {
            assert!(!is_jira_key(bad), "{bad}");
        }
        assert!(!is_jira_key(&format!("{}-1", "A".repeat(300))));
        for good in ["INC0010001", "RITM0001234"] {
            assert!(is_servicenow_number(good), "{good}");
        }
        for bad in ["INC001/../x", "0010001", "INC", "INC 1", "INC1^ORnumber=x"] {
            assert!(!is_servicenow_number(bad), "{bad}");
        }
    }
}
