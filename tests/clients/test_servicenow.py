"""The ServiceNow Table API through a plain HTTP client (requests), the way ServiceNow's own
REST API Explorer documents it: an incident found by number with an encoded query of several
conditions, `sysparm_fields`, reference fields as `{link, value}` or display values, dates as
`yyyy-MM-dd HH:mm:ss`, work notes written and read back from the journal, state changes."""

import re

import requests

GLIDE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def session(tenant) -> requests.Session:
    s = requests.Session()
    s.auth = (tenant.snow_user, tenant.snow_password)
    s.headers["Accept"] = "application/json"
    return s


def table(tenant, name: str, sys_id: str = "") -> str:
    return f"{tenant.base}/api/now/table/{name}" + (f"/{sys_id}" if sys_id else "")


def find(tenant, http, **params):
    response = http.get(table(tenant, "incident"), params=params)
    response.raise_for_status()
    return response


def test_an_incident_is_found_by_an_encoded_query_of_several_conditions(tenant):
    http = session(tenant)
    found = find(
        tenant,
        http,
        sysparm_query=f"number={tenant.snow_incident}^active=true^ORDERBYDESCsys_created_on",
        sysparm_fields="sys_id,number,caller_id,sys_created_on,state",
        sysparm_limit="1",
    )
    assert found.headers["X-Total-Count"] == "1"
    [incident] = found.json()["result"]
    assert set(incident) == {"sys_id", "number", "caller_id", "sys_created_on", "state"}
    assert incident["number"] == tenant.snow_incident
    assert re.fullmatch(r"[0-9a-f]{32}", incident["sys_id"])
    assert GLIDE_TIME.match(incident["sys_created_on"]), incident["sys_created_on"]
    caller = incident["caller_id"]
    assert set(caller) == {"link", "value"}, caller
    user = http.get(caller["link"]).json()["result"]
    assert user["sys_id"] == caller["value"]
    assert user["user_name"].lower() == tenant.users[1].lower()
    none = find(tenant, http, sysparm_query=f"number={tenant.snow_incident}^active=false")
    assert none.json()["result"] == [] and none.headers["X-Total-Count"] == "0"
    either = find(tenant, http, sysparm_query=f"number=INC0000000^ORnumber={tenant.snow_incident}")
    assert [i["number"] for i in either.json()["result"]] == [tenant.snow_incident]


def test_references_show_as_asked(tenant):
    http = session(tenant)
    shown = find(
        tenant,
        http,
        sysparm_query=f"number={tenant.snow_incident}",
        sysparm_display_value="true",
        sysparm_fields="caller_id",
    ).json()["result"][0]
    # The display value is the user's display field (its name), not its user name.
    assert shown["caller_id"] == tenant.users[1].split("@")[0]
    both = find(
        tenant,
        http,
        sysparm_query=f"number={tenant.snow_incident}",
        sysparm_display_value="all",
        sysparm_exclude_reference_link="true",
        sysparm_fields="caller_id",
    ).json()["result"][0]
    assert set(both["caller_id"]) == {"display_value", "value"}


def test_work_notes_go_to_the_journal_and_state_changes_stick(tenant):
    http = session(tenant)
    [incident] = find(tenant, http, sysparm_query=f"number={tenant.snow_incident}").json()["result"]
    url = table(tenant, "incident", incident["sys_id"])
    updated = http.patch(url, json={"work_notes": "Detour is on it."})
    updated.raise_for_status()
    assert updated.json()["result"]["work_notes"] == ""
    journal = http.get(
        table(tenant, "sys_journal_field"),
        params={
            "sysparm_query": f"element_id={incident['sys_id']}^element=work_notes^ORDERBYDESCsys_created_on",
            "sysparm_fields": "value,sys_created_on",
        },
    ).json()["result"]
    assert [j["value"] for j in journal] == ["Detour is on it."]
    assert GLIDE_TIME.match(journal[0]["sys_created_on"])
    resolved = http.patch(
        url, json={"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Fixed."}
    ).json()["result"]
    assert (resolved["state"], resolved["close_code"]) == ("6", "Solved (Permanently)")
    again = http.get(url, params={"sysparm_fields": "state,close_notes"}).json()["result"]
    assert again == {"state": "6", "close_notes": "Fixed."}
    missing = http.get(table(tenant, "incident", "0" * 32))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No Record found"
