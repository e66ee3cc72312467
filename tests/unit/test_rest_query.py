"""Pure parsing of the REST stand-in (PostgREST-compatible): no database, no network."""
import pytest
from standins.rest import parse as P
from standins.rest import sql as Q
from standins.rest.errors import ApiError, pg_status
from standins.rest.schema import Column, Table


def notes_table():
    t = Table("public", "notes", "r", 1, True, True, True)
    for i, (name, typ) in enumerate([("id", "bigint"), ("owner_id", "uuid"), ("body", "text")]):
        t.columns[name] = Column(name, typ, typ, name != "id", None, i + 1)
    t.pk = ["id"]
    return t


@pytest.mark.parametrize("value,op,expected", [
    ("eq.5", "eq", "5"), ("neq.a", "neq", "a"), ("gte.1.5", "gte", "1.5"), ("like.*a*", "like", "*a*"),
    ("ilike.A%", "ilike", "A%"), ("is.null", "is", "null"), ("is.TRUE", "is", "true"),
])
def test_simple_filters(value, op, expected):
    f = P.parse_filter("col", value)
    assert (f.op, f.value, f.negate) == (op, expected, False)


def test_not_and_in_list_with_quotes():
    f = P.parse_filter("name", 'not.in.(a,b,"c d","e,f")')
    assert f.negate and f.op == "in" and f.value == ["a", "b", "c d", "e,f"]


@pytest.mark.parametrize("bad", ["foo.1", "eq", "in.a,b", "is.maybe"])
def test_malformed_filters_are_pgrst100(bad):
    with pytest.raises(ApiError) as exc:
        P.parse_filter("col", bad)
    assert exc.value.code == "PGRST100" and exc.value.status == 400


def test_logic_tree():
    tree = P.parse_logic("or", "(id.gt.5,and(body.is.null,owner_id.not.eq.x))")
    assert tree.op == "or" and len(tree.children) == 2
    assert tree.children[1].op == "and" and tree.children[1].children[1].negate


def test_select_aliases_casts_and_star():
    items = P.parse_select("id,b:body,id::text,*")
    assert items[1].alias == "b" and items[1].field.name == "body"
    assert items[2].cast == "text" and items[3].field is None


def test_select_rejects_embedding_with_pgrst_error():
    with pytest.raises(ApiError) as exc:
        P.parse_select("id,teams(name)")
    assert exc.value.code == "PGRST200"


def test_order():
    terms = P.parse_order("a.desc.nullslast,b")
    assert (terms[0].field.name, terms[0].direction, terms[0].nulls) == ("a", "desc", "last")
    assert terms[1].direction is None
    with pytest.raises(ApiError):
        P.parse_order("a.sideways")


@pytest.mark.parametrize("rng,limit,offset,max_rows,expected", [
    (None, None, None, None, (0, None)),
    ("0-9", None, None, None, (0, 10)),
    ("10-", None, None, None, (10, None)),
    (None, "5", "20", None, (20, 5)),
    ("0-9", "3", None, None, (0, 3)),
    ("0-9", None, "5", None, (5, 5)),
    (None, None, None, 1000, (0, 1000)),
    (None, "0", None, None, (0, 0)),
])
def test_ranges(rng, limit, offset, max_rows, expected):
    assert P.compute_range(rng, limit, offset, max_rows) == expected


def test_range_errors():
    with pytest.raises(ApiError) as exc:
        P.compute_range("9-1", None, None, None)
    assert exc.value.status == 416 and exc.value.code == "PGRST103"
    with pytest.raises(ApiError):
        P.compute_range(None, "abc", None, None)


@pytest.mark.parametrize("lower,n,total,expected,status", [
    (0, 10, 123, "0-9/123", 206), (0, 3, None, "0-2/*", 200), (0, 0, 0, "*/0", 200),
    (0, 0, None, "*/*", 200), (0, 3, 3, "0-2/3", 200), (100, 0, 5, "*/5", 416),
])
def test_content_range(lower, n, total, expected, status):
    assert P.content_range(lower, n, total) == expected
    assert P.range_status(lower, n, total) == status


def test_prefer_and_accept():
    p = P.parse_prefer(["return=representation, count=exact", "resolution=merge-duplicates"])
    assert (p.return_, p.count, p.resolution) == ("representation", "exact", "merge-duplicates")
    assert P.negotiate("application/vnd.pgrst.object+json") == "object"
    assert P.negotiate("*/*") == "json"
    with pytest.raises(ApiError) as exc:
        P.negotiate("text/html")
    assert exc.value.status == 406 and exc.value.code == "PGRST107"


@pytest.mark.parametrize("code,authed,status", [
    ("42501", False, 401), ("42501", True, 403), ("23505", True, 409), ("23503", True, 409),
    ("23502", True, 400), ("22P02", True, 400), ("57014", True, 500), ("42P01", True, 404),
    ("42883", True, 404), ("P0001", True, 400), ("08006", True, 503), ("25006", True, 405),
])
def test_pg_error_status(code, authed, status):
    assert pg_status(code, "x", authed) == status


def test_sql_uses_bound_parameters_and_quoted_identifiers():
    t = notes_table()
    filters = [P.parse_filter("body", "eq.'; drop table notes; --"), P.parse_filter("id", "in.(1,2)")]
    sql, params = Q.read_query(t, P.parse_select("id,body"), filters, P.parse_order("id.desc"), 0, 10, True)
    assert "drop table" not in sql
    assert params == ["'; drop table notes; --", "1", "2", "'; drop table notes; --", "1", "2"]
    assert '"public"."notes"' in sql and "LIMIT 10" in sql


def test_unknown_column_and_hostile_identifiers():
    t = notes_table()
    with pytest.raises(ApiError) as exc:
        Q.read_query(t, P.parse_select('id"; select 1; --'), [], [], 0, None, False)
    assert exc.value.status == 400
    with pytest.raises(ApiError) as exc:
        Q.read_query(t, P.parse_select("id::text; drop"), [], [], 0, None, False)
    assert exc.value.status == 400
