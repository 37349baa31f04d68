"""Logging in to the viewer off loopback: a one-time challenge signed with an SSH key the site
lists (real ``ssh-keygen``), then a signed session cookie; ``orchestrator serve``'s options."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from orchestrator.adapters.identity import NAMESPACE as APPROVALS
from orchestrator.cli import app
from orchestrator.cli.serve import Bind, build, people_login
from orchestrator.engine.errors import BadInput
from orchestrator.engine.ports.identity import KnownPerson
from orchestrator.store import StoreLocation, open_store
from orchestrator.testing import InMemoryRunStore
from orchestrator.web import viewer_app
from orchestrator.web.auth import COOKIE, NAMESPACE
from tests.unit.test_identity import keypair
from tests.unit.viewer_support import seed


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: keypair(folder, name) for name in ("bob", "mallory")}


@pytest.fixture(scope="module")
def store() -> InMemoryRunStore:
    store = InMemoryRunStore()
    seed(store)
    return store


@pytest.fixture
def client(keys: dict[str, tuple[Path, str]], store: InMemoryRunStore) -> TestClient:
    bob = KnownPerson("bob", "Bob Buddy", "bob@hosting.example.com", frozenset({"engineer"}),
                      (keys["bob"][1],))  # fmt: skip
    return TestClient(viewer_app(store, login=people_login({"bob": bob}, secure=False)))


def challenge(client: TestClient, after: str = "/") -> tuple[str, str]:
    """The text the login page asks to sign, and the form's token."""
    page = client.get(f"/login?next={after}").text
    text = re.search(r"echo &#39;(orchestrator-viewer login [0-9a-f]+)&#39;", page)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert text is not None
    assert token is not None
    return text.group(1) + "\n", token.group(1)


def sign(key: Path, text: str, namespace: str = NAMESPACE) -> str:
    done = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(key)],
                          input=text, capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def log_in(client: TestClient, token: str, signature: str, after: str = "/") -> int:
    form = {"token": token, "signature": signature, "next": after}
    return client.post("/login", data=form, follow_redirects=False).status_code


def test_every_page_needs_a_login_but_the_login_page_and_static_files(client: TestClient) -> None:
    page = client.get("/deliveries/acme-webshop", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fdeliveries%2Facme-webshop"
    assert client.get("/runs/x/live", headers={"HX-Request": "true"}).status_code == 401
    assert client.get("/static/viewer.css").status_code == 200
    assert "ssh-keygen -Y sign -n orchestrator-viewer" in client.get("/login").text


def test_a_person_logs_in_with_a_signature_of_a_key_the_site_lists(
    client: TestClient, keys: dict[str, tuple[Path, str]]
) -> None:
    text, token = challenge(client, "/deliveries/acme-webshop")
    answer = client.post("/login", data={"token": token, "signature": sign(keys["bob"][0], text),
                                         "next": "/deliveries/acme-webshop"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/deliveries/acme-webshop"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = client.get("/deliveries/acme-webshop")
    assert page.status_code == 200
    assert '<span class="who">bob' in page.text
    client.post("/logout")
    assert client.get("/deliveries", follow_redirects=False).status_code == 303


def test_a_challenge_logs_in_once(client: TestClient, keys: dict[str, tuple[Path, str]]) -> None:
    text, token = challenge(client)
    signature = sign(keys["bob"][0], text)
    assert log_in(client, token, signature) == 303
    client.cookies.clear()
    page = client.post("/login", data={"token": token, "signature": signature})
    assert page.status_code == 403
    assert "that challenge was used already" in page.text


@pytest.mark.parametrize(
    ("signer", "namespace", "why"),
    [
        ("mallory", NAMESPACE, "the key that signed is not listed for anyone in the site"),
        ("bob", APPROVALS, "Signature verification failed|incorrect signature|namespace"),
    ],
)
def test_a_signature_of_another_key_or_for_approvals_does_not_log_in(
    client: TestClient, keys: dict[str, tuple[Path, str]], signer: str, namespace: str, why: str
) -> None:
    text, token = challenge(client)
    signature = sign(keys[signer][0], text, namespace)
    page = client.post("/login", data={"token": token, "signature": signature})
    assert page.status_code == 403
    assert re.search(why, page.text)
    assert client.get("/deliveries", follow_redirects=False).status_code == 303


def test_an_altered_challenge_or_a_forged_cookie_does_not_log_in(
    client: TestClient, keys: dict[str, tuple[Path, str]]
) -> None:
    text, token = challenge(client)
    page = client.post("/login", data={"token": token[:-2] + "xx",
                                       "signature": sign(keys["bob"][0], text)})  # fmt: skip
    assert "the challenge expired or was altered" in page.text
    client.cookies.set(COOKIE, "bob")
    assert client.get("/deliveries", follow_redirects=False).status_code == 303


def test_after_logging_in_the_viewer_goes_only_to_its_own_pages(
    client: TestClient, keys: dict[str, tuple[Path, str]]
) -> None:
    text, token = challenge(client)
    form = {"token": token, "signature": sign(keys["bob"][0], text), "next": "//evil.example/"}
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_no_one_can_log_in_to_a_site_without_ssh_keys() -> None:
    nobody = KnownPerson("dana", "Dana Manager", "dana@hosting.example.com")
    with pytest.raises(BadInput, match="no one in the site has ssh_keys"):
        people_login({"dana": nobody}, secure=False)


@pytest.mark.parametrize(
    ("given", "bind", "loopback"),
    [
        ("127.0.0.1:8080", Bind("127.0.0.1", 8080), True),
        ("localhost:9000", Bind("localhost", 9000), True),
        ("[::1]:8080", Bind("::1", 8080), True),
        ("0.0.0.0:8080", Bind("0.0.0.0", 8080), False),  # noqa: S104 - parsed, not bound
        ("viewer.example.com:443", Bind("viewer.example.com", 443), False),
    ],
)
def test_bind_addresses_and_whether_they_are_loopback(
    given: str,
    bind: Bind,
    loopback: bool,  # noqa: FBT001 - a test parameter
) -> None:
    assert Bind.parse(given) == bind
    assert bind.loopback is loopback


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--bind", "8080"], "--bind 8080: give HOST:PORT"),
        (["--bind", "10.0.0.5:8080"], "serving off loopback needs --site"),
        (["--tls-cert", "cert.pem"], "give both --tls-cert and --tls-key"),
    ],
)
def test_serve_refuses_what_it_cannot_serve_safely(
    args: list[str], error: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCHESTRATOR_SITE", raising=False)
    done = CliRunner().invoke(app, ["serve", *args, "--state-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert error in " ".join(done.output.split())


def test_serve_refuses_a_store_that_is_not_there(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["serve", "--state-dir", str(tmp_path / "none")])
    assert done.exit_code == 2
    assert "no run store at" in done.output


def test_serving_off_loopback_asks_the_site_people_to_log_in(tmp_path: Path) -> None:
    location = StoreLocation(tmp_path)
    open_store(location).close()
    site = str(Path(__file__).parents[2] / "examples" / "sites" / "ams1.yaml")
    app, store = build(Bind("0.0.0.0", 8080), location, site, None)  # noqa: S104 - not bound
    try:
        page = TestClient(app).get("/deliveries", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")
    finally:
        store.close()
