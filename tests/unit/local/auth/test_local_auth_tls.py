"""Mutual TLS with real OpenSSL handshakes: who the gateway's listener lets through the
handshake, and the decision after it by certificateId."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from ota_deploy.local.auth.ca import IssuedCertificate, LocalCa
from ota_deploy.local.auth.certificates import certificate_id
from ota_deploy.local.auth.server_cert import ServerIdentity
from ota_deploy.local.auth.tls import (
    MutualTls,
    admit_peer,
    client_context,
    client_context_from_pem,
    peer_certificate_der,
)

NOW = 1_700_000_000.0


def _client(ca: LocalCa, cert_pem: str, key_pem: str, **kw) -> ssl.SSLContext:
    return client_context_from_pem(ca_pem=ca.ca_pem, cert_pem=cert_pem, key_pem=key_pem, **kw)


def _registry(**status: str):
    return lambda cid: status.get(cid)


def test_a_create_keys_and_certificate_certificate_is_admitted(
    ca: LocalCa, issued: IssuedCertificate, identity: ServerIdentity, tls_handshake
):
    tls = MutualTls(identity)
    srv, cli = tls_handshake(
        tls.context, _client(ca, issued.certificate_pem, issued.private_key_pem)
    )
    der = peer_certificate_der(srv)
    assert der is not None and certificate_id(der) == issued.certificate_id
    admission = admit_peer(der, _registry(**{issued.certificate_id: "ACTIVE"}))
    assert admission.admitted and admission.certificate_id == issued.certificate_id
    assert admission.reason == ""
    assert cli.version() in ("TLSv1.2", "TLSv1.3")


def test_an_unregistered_self_signed_certificate_is_refused_in_the_handshake(
    ca: LocalCa, identity: ServerIdentity, make_cert, tls_handshake
):
    stranger = make_cert("stranger")
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(MutualTls(identity).context, _client(ca, stranger.pem, stranger.key_pem))


def test_a_client_without_a_certificate_is_refused(
    ca: LocalCa, identity: ServerIdentity, tls_handshake
):
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(cadata=ca.ca_pem)
    with pytest.raises(ssl.SSLError):
        tls_handshake(MutualTls(identity).context, bare)
    assert admit_peer(None, _registry()).reason == "no client certificate"


def test_registering_a_certificate_without_its_ca_lets_it_through_from_the_next_handshake(
    ca: LocalCa, identity: ServerIdentity, make_cert, tls_handshake
):
    their_ca = make_cert("their CA", ca=True)
    device = make_cert("device", issuer=their_ca)  # the client sends no chain
    tls = MutualTls(identity)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(tls.context, _client(ca, device.pem, device.key_pem))
    assert tls.trust(device.pem)  # RegisterCertificateWithoutCA, on the live context
    assert not tls.trust(device.pem)  # already trusted
    srv, _ = tls_handshake(tls.context, _client(ca, device.pem, device.key_pem))
    cid = certificate_id(device.pem)
    assert tls.trusts(cid)
    assert admit_peer(peer_certificate_der(srv), _registry(**{cid: "ACTIVE"})).admitted


def test_a_registered_self_signed_certificate_is_admitted(
    ca: LocalCa, identity: ServerIdentity, make_cert, tls_handshake
):
    alone = make_cert("self signed device")
    tls = MutualTls(identity, trusted=[alone.pem])
    srv, _ = tls_handshake(tls.context, _client(ca, alone.pem, alone.key_pem))
    assert certificate_id(peer_certificate_der(srv) or b"") == certificate_id(alone.pem)


def test_certificates_of_a_registered_ca_are_accepted_at_tls(
    ca: LocalCa, identity: ServerIdentity, make_cert, tls_handshake
):
    their_ca = make_cert("registered CA", ca=True)
    device_a, device_b = make_cert("a", issuer=their_ca), make_cert("b", issuer=their_ca)
    tls = MutualTls(identity)
    tls.trust(their_ca.pem)  # RegisterCACertificate
    for device in (device_a, device_b):
        srv, _ = tls_handshake(tls.context, _client(ca, device.pem, device.key_pem))
        assert certificate_id(peer_certificate_der(srv) or b"") == certificate_id(device.pem)
    assert tls.anchor_count == 2  # the local CA and theirs


def test_after_the_handshake_only_registered_active_certificates_are_admitted(
    issued: IssuedCertificate,
):
    der = issued.certificate.der
    cid = issued.certificate_id
    unknown = admit_peer(der, _registry())
    assert not unknown.admitted and "not registered" in unknown.reason
    for status in ("INACTIVE", "REVOKED", "PENDING_TRANSFER"):
        verdict = admit_peer(der, _registry(**{cid: status}))
        assert not verdict.admitted and status in verdict.reason
        assert verdict.certificate_id == cid
    assert admit_peer(der, _registry(**{cid: "ACTIVE"})).admitted


def test_an_expired_certificate_is_refused_even_when_trusted(
    ca: LocalCa, identity: ServerIdentity, make_cert, tls_handshake
):
    old = make_cert("old", not_before=NOW - 7200, not_after=NOW - 3600)
    tls = MutualTls(identity, trusted=[old.pem])
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(tls.context, _client(ca, old.pem, old.key_pem))


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "gateway.test"])
def test_the_client_verifies_the_gateway_under_each_of_its_names(
    ca: LocalCa, issued: IssuedCertificate, identity: ServerIdentity, tls_handshake, name: str
):
    client = _client(ca, issued.certificate_pem, issued.private_key_pem)
    _, cli = tls_handshake(MutualTls(identity).context, client, server_hostname=name)
    assert cli.getpeercert()["subjectAltName"]


def test_the_client_refuses_a_name_the_gateway_certificate_lacks(
    ca: LocalCa, issued: IssuedCertificate, identity: ServerIdentity, tls_handshake
):
    client = _client(ca, issued.certificate_pem, issued.private_key_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_handshake(MutualTls(identity).context, client, server_hostname="elsewhere.test")


def test_tls_1_2_clients_and_the_aws_alpn_name_are_served(
    ca: LocalCa, issued: IssuedCertificate, identity: ServerIdentity, tls_handshake
):
    client = _client(ca, issued.certificate_pem, issued.private_key_pem)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_alpn_protocols(["x-amzn-mqtt-ca"])
    srv, cli = tls_handshake(MutualTls(identity).context, client)
    assert cli.version() == "TLSv1.2"
    assert cli.selected_alpn_protocol() == "x-amzn-mqtt-ca"
    assert peer_certificate_der(srv) == issued.certificate.der


def test_mutual_tls_over_a_loopback_socket_with_certificate_files(
    ca: LocalCa, issued: IssuedCertificate, identity: ServerIdentity, tmp_path: Path
):
    (tmp_path / "ca.pem").write_text(ca.ca_pem)
    (tmp_path / "device.pem").write_text(issued.certificate_pem)
    (tmp_path / "device.key").write_text(issued.private_key_pem)
    client = client_context(
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "device.pem",
        key_file=tmp_path / "device.key",
    )
    tls = MutualTls(identity)
    seen: dict[str, object] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with tls.context.wrap_socket(conn, server_side=True) as tls_conn:
                seen["admission"] = admit_peer(
                    peer_certificate_der(tls_conn), _registry(**{issued.certificate_id: "ACTIVE"})
                )
                tls_conn.sendall(b"\x20\x02\x00\x00")  # an MQTT CONNACK, as the gateway would

        server = threading.Thread(target=serve)
        server.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                reply = conn.recv(4)
        server.join(timeout=10)
    assert reply == b"\x20\x02\x00\x00"
    admission = seen["admission"]
    assert getattr(admission, "admitted", False)
    assert getattr(admission, "certificate_id", None) == issued.certificate_id


def test_client_context_needs_a_ca(issued: IssuedCertificate, tmp_path: Path):
    with pytest.raises(ValueError):
        client_context(cert_file=tmp_path / "c.pem", key_file=tmp_path / "k.pem")
