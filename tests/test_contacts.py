"""The contact adapter on two hosts whose contact models differ."""

from __future__ import annotations

from flask import Flask

from flask_paylinks import Address, Contact, ContactDirectory

from .hosts import crm_a, crm_b


def _seed_a() -> None:
    db = crm_a.db
    vip = crm_a.Tag(account_id=1, name="VIP")
    other_tag = crm_a.Tag(account_id=2, name="VIP")
    db.session.add_all(
        [
            crm_a.Customer(
                account_id=1,
                full_name="Ada Lovelace",
                email="ada@example.com",
                mobile="+14155550101",
                tags=[vip],
            ),
            crm_a.Customer(
                account_id=1,
                full_name="Grace Hopper",
                email="grace@example.com",
                mobile=None,
                do_not_text=True,
                tags=[vip],
            ),
            crm_a.Customer(
                account_id=1,
                full_name="Alan Turing",
                email=None,
                mobile="+14155550103",
            ),
            crm_a.Customer(
                account_id=2,
                full_name="Ada Other",
                email="ada@example.com",
                tags=[other_tag],
            ),
        ]
    )
    db.session.commit()


def test_host_a_reads_contacts_through_its_mapping(host_a: Flask) -> None:
    with host_a.app_context():
        _seed_a()
        directory = host_a.extensions["paylinks"].contacts
        assert isinstance(directory, ContactDirectory)
        ada = directory.get("1", "1")
        assert ada == Contact(
            id="1",
            name="Ada Lovelace",
            email="ada@example.com",
            phone="+14155550101",
            address=None,
            sms_ok=True,
            email_ok=True,
        )
        assert directory.get("1", "2").sms_ok is False
        assert directory.get("2", "1") is None, "another owner's contact is invisible"
        assert directory.get("1", "not-a-number") is None
        assert [c.name for c in directory.search("1", "ada", 10)] == ["Ada Lovelace"]
        assert [c.id for c in directory.search("1", "5550103", 10)] == ["3"]
        assert [c.id for c in directory.search("1", "", 2)] == ["1", "3"]
        assert directory.search("1", "100%_", 10) == []


def test_host_a_segments_come_from_its_tag_model(host_a: Flask) -> None:
    with host_a.app_context():
        _seed_a()
        directory = host_a.extensions["paylinks"].contacts
        segments = directory.segments("1")
        assert [(s.name, s.size) for s in segments] == [("VIP", 2)]
        members = directory.segment_members("1", segments[0].id)
        assert [c.name for c in members] == ["Ada Lovelace", "Grace Hopper"]
        other_tag_id = directory.segments("2")[0].id
        assert list(directory.segment_members("1", other_tag_id)) == []
        assert list(directory.segment_members("1", "nonsense")) == []


def test_host_a_upsert_matches_by_email_and_only_fills_empty_fields(
    host_a: Flask,
) -> None:
    with host_a.app_context():
        _seed_a()
        directory = host_a.extensions["paylinks"].contacts
        address = Address(
            line1="1 Main St", city="Springfield", postal_code="12345", country="US"
        )
        contact = directory.upsert(
            "1",
            name="Someone Else",
            email="ADA@example.com",
            phone="+14155550199",
            address=address,
        )
        crm_a.db.session.commit()
        assert contact.id == "1"
        row = crm_a.db.session.get(crm_a.Customer, 1)
        # The name and phone the CRM holds stay; the empty address is filled.
        assert (row.full_name, row.mobile, row.street, row.city, row.zip) == (
            "Ada Lovelace",
            "+14155550101",
            "1 Main St",
            "Springfield",
            "12345",
        )
        again = directory.upsert(
            "1",
            name="Ada",
            email="ada@example.com",
            phone=None,
            address=Address(line1="9 Other Rd", city="Elsewhere"),
        )
        crm_a.db.session.commit()
        assert again.address is not None
        assert (again.address.line1, again.address.city) == ("1 Main St", "Springfield")
        assert crm_a.db.session.get(crm_a.Customer, 4).mobile is None


def test_host_a_update_overwrites_only_the_fields_given(host_a: Flask) -> None:
    with host_a.app_context():
        _seed_a()
        directory = host_a.extensions["paylinks"].contacts
        updated = directory.update(
            "1", "1", phone="+14155550199", address=Address(line1="2 New St")
        )
        crm_a.db.session.commit()
        assert updated is not None
        row = crm_a.db.session.get(crm_a.Customer, 1)
        assert (row.email, row.mobile, row.street) == (
            "ada@example.com",
            "+14155550199",
            "2 New St",
        )
        # Another owner's contact, or no such contact: nothing to update.
        assert directory.update("2", "1", phone="+14155550000") is None
        assert directory.update("1", "nonsense", phone="+14155550000") is None
        crm_a.db.session.commit()
        assert crm_a.db.session.get(crm_a.Customer, 1).mobile == "+14155550199"


def test_host_a_upsert_matches_by_phone_then_creates(host_a: Flask) -> None:
    with host_a.app_context():
        _seed_a()
        directory = host_a.extensions["paylinks"].contacts
        by_phone = directory.upsert(
            "1",
            name="A. Turing",
            email="alan@example.com",
            phone="+14155550103",
            address=None,
        )
        assert by_phone.id == "3"
        new = directory.upsert(
            "1", name="New Person", email="new@example.com", phone=None, address=None
        )
        crm_a.db.session.commit()
        row = crm_a.db.session.get(crm_a.Customer, int(new.id))
        assert (row.account_id, row.full_name, row.email) == (
            1,
            "New Person",
            "new@example.com",
        )


def test_host_b_maps_split_names_string_keys_and_callable_segments(
    host_b: Flask,
) -> None:
    with host_b.app_context():
        db = crm_b.db
        db.session.add_all(
            [
                crm_b.Person(
                    pk="p1",
                    org_id="org-1",
                    first_name="Katherine",
                    last_name="Johnson",
                    email_address="kj@example.com",
                    city="London",
                    vip=True,
                ),
                crm_b.Person(
                    pk="p2",
                    org_id="org-1",
                    first_name="Dorothy",
                    last_name="Vaughan",
                    phone_number="+442071838750",
                ),
                crm_b.Person(
                    pk="p3",
                    org_id="org-2",
                    first_name="Mary",
                    last_name="Jackson",
                    city="London",
                ),
            ]
        )
        db.session.commit()
        directory = host_b.extensions["paylinks"].contacts
        assert directory.get("org-1", "p1").name == "Katherine Johnson"
        assert directory.get("org-1", "p1").address == Address(city="London")
        assert directory.get("org-2", "p1") is None
        assert [c.id for c in directory.search("org-1", "vaughan", 5)] == ["p2"]
        assert [s.id for s in directory.segments("org-1")] == ["vip", "london"]
        assert [c.id for c in directory.segment_members("org-1", "london")] == ["p1"]

        created = directory.upsert(
            "org-1",
            name="Annie Easley Jr",
            email="annie@example.com",
            phone="+442071838751",
            address=Address(city="Cleveland"),
        )
        db.session.commit()
        row = db.session.get(crm_b.Person, created.id)
        assert (
            row.org_id,
            row.first_name,
            row.last_name,
            row.phone_number,
            row.city,
        ) == ("org-1", "Annie", "Easley Jr", "+442071838751", "Cleveland")
