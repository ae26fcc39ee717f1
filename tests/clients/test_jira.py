"""Jira Cloud through the `jira` package, the most used Python client, constructed as any user
does (server URL and basic auth with an API token; it reads serverInfo on construction):
the issue with its comments, comments listed, added, read and edited, transitions by id and by
name with a comment taken along, and JQL search. REST v2 is the package's default; v3 is
asked of the same tenant through `rest_api_version`."""

from jira import JIRA, JIRAError


def jira(tenant, version="2") -> JIRA:
    return JIRA(
        server=tenant.base,
        basic_auth=(tenant.jira_user, tenant.jira_token),
        options={"rest_api_version": version},
    )


def test_construction_reads_the_server_as_jira_cloud(tenant):
    client = jira(tenant)
    info = client.server_info()
    assert info["deploymentType"] == "Cloud"
    assert client._is_cloud
    assert client.myself()["displayName"]


def test_an_issue_reads_with_its_links_fields_and_comments(tenant):
    client = jira(tenant)
    issue = client.issue(tenant.jira_issue)
    assert issue.key == tenant.jira_issue
    assert issue.self.endswith(f"/rest/api/2/issue/{issue.id}")
    assert issue.fields.summary
    assert issue.fields.status.name
    assert isinstance(issue.fields.comment.comments, list)
    assert "T" in issue.fields.created and issue.fields.created[-5] in "+-"


def test_comments_are_added_listed_read_and_edited_in_either_version(tenant):
    client = jira(tenant)
    added = client.add_comment(tenant.jira_issue, "Detour checked the mailbox.\nNothing to do.")
    assert added.id
    assert added.body == "Detour checked the mailbox.\nNothing to do."
    listed = client.comments(tenant.jira_issue)
    assert added.id in [c.id for c in listed]
    one = client.comment(tenant.jira_issue, added.id)
    assert one.body == added.body
    one.update(body="Detour checked the mailbox again.")
    assert client.comment(tenant.jira_issue, added.id).body == "Detour checked the mailbox again."
    # The same comment through v3 is a document; written there, v2 reads text.
    v3 = jira(tenant, "3")
    document = v3.comment(tenant.jira_issue, added.id).raw["body"]
    assert document["type"] == "doc"
    text = "".join(
        node.get("text", "")
        for block in document["content"]
        for node in block.get("content", [])
    )
    assert text == "Detour checked the mailbox again."
    issue = client.issue(tenant.jira_issue)
    assert added.id in [c.id for c in issue.fields.comment.comments]


def test_transitions_by_id_and_by_name_take_their_comment_along(tenant):
    client = jira(tenant)
    offered = client.transitions(tenant.jira_issue)
    assert offered and all("to" in t for t in offered)
    by_id = next(t for t in offered if t["name"] == "Start progress")
    client.transition_issue(tenant.jira_issue, by_id["id"])
    assert client.issue(tenant.jira_issue).fields.status.name == by_id["to"]["name"]
    before = len(client.comments(tenant.jira_issue))
    client.transition_issue(tenant.jira_issue, "Resolve", comment="Fixed by Detour.")
    issue = client.issue(tenant.jira_issue)
    assert issue.fields.status.name == "Resolved"
    comments = client.comments(tenant.jira_issue)
    assert len(comments) == before + 1
    assert comments[-1].body == "Fixed by Detour."
    try:
        client.transition_issue(tenant.jira_issue, "No such transition")
    except JIRAError:
        pass
    else:
        raise AssertionError("an unknown transition name is an error")


def test_jql_search_finds_the_issue_and_refuses_unknown_fields(tenant):
    client = jira(tenant)
    project = tenant.jira_issue.split("-")[0]
    found = client.search_issues(f"project = {project} AND labels = detour ORDER BY created DESC")
    assert [i.key for i in found] == [tenant.jira_issue]
    assert client.search_issues("labels = nothing-has-this") == []
    try:
        client.search_issues("assignee = currentUser()")
    except JIRAError as error:
        assert error.status_code == 400
    else:
        raise AssertionError("an unknown field is refused")
