"""The incumbent's connector API as the public connector CLI calls it (``paconn`` 0.0.21):
``paconn create|update|download|validate --pau <this server>`` work unmodified.

Every route is a shell over the use cases the REST API and the CLI call (validation,
``connectors.service.create``, ``revise``, ``download``, ``list``), with a personal access
token as ``Authorization: Bearer`` (``connectorhub paconn-login`` writes paconn's token
file). ``api-version`` is accepted and not needed. An environment is named by
``$filter=environment eq '<name or id>'``, as paconn sends it.

Download: ``apiDefinitions.originalSwaggerUrl``, ``iconUri`` and ``scriptDefinitionUrl``
are links signed for a few minutes for that file of that revision
(:mod:`connectorhub.connectors.links`), fetched without credentials.

Icon and script upload: paconn uploads them to the address ``generateResourceStorage``
answers with the Azure blob client, which always speaks HTTPS to
``<account>.blob.<domain>`` — no address of this server. The answer is therefore an
address under the reserved ``.invalid`` domain that names what to run instead
(``connectorhub connector update --icon/--script``); docs/paconn.md says so.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Path, Query, Request, status
from fastapi.responses import Response

from connectorhub.api import heavy
from connectorhub.api.context import Context, context, public_url
from connectorhub.api.heavy import heavy_context
from connectorhub.connectors import links, service, validation
from connectorhub.connectors.models import Connector
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import InvalidRequest, NotFound, ValidationFailed
from connectorhub.paconn import schemas, translate
from connectorhub.pagination import DEFAULT_LIMIT, MAX_LIMIT
from connectorhub.transactions import retried

router = APIRouter(prefix=translate.PREFIX, tags=["paconn"])

ApiVersion = Annotated[str | None, Query(
    alias="api-version", max_length=40, description="Accepted as the incumbent's clients send it; not needed",
)]
FILTER_HELP = "environment eq '<environment name or id>', as paconn sends it"
EnvironmentFilter = Annotated[str | None, Query(alias="$filter", pattern=translate.FILTER_PATTERN, description=FILTER_HELP)]
RequiredFilter = Annotated[str, Query(alias="$filter", pattern=translate.FILTER_PATTERN, description=FILTER_HELP)]
ObjectId = Annotated[str, Path(max_length=200, description="Your own user id (paconn reads it from its token file)")]
ApiName = Annotated[str, Path(max_length=200, description="The connector's id (or name)")]
UPLOAD_HOST = "icons-and-scripts-are-set-with-connectorhub.blob.invalid"
UPLOAD_MESSAGE = (
    "connectorhub keeps no blob storage for icons and scripts: set them with "
    "connectorhub connector update -e ENVIRONMENT -c CONNECTOR --icon icon.png --script script.csx."
)


def _own_object_id(ctx: Context, oid: str) -> None:
    if oid != ctx.actor.user_id:
        raise NotFound(
            f"objectIds/{oid} is not your user id; paconn sends the oid of its token file "
            "(connectorhub paconn-login writes it).",
            code="ObjectIdNotFound",
        )


def _environment_ref(value: str | None, fallback: str | None = None) -> str:
    ref = translate.environment_from_filter(value) or fallback
    if ref is None:
        raise InvalidRequest(
            "Name the environment: $filter=environment eq '<environment name or id>' (paconn's -e).",
            code="EnvironmentRequired",
        )
    return ref


def _base(request: Request) -> str:
    return (public_url(request) or str(request.base_url)).rstrip("/")


def _links(request: Request, ctx: Context, connector: Connector, environment) -> dict[str, str]:
    """Signed download addresses of the files the connector has, for the caller, who read
    it in ``environment`` (a link reads only what its user still may)."""
    out = {}
    for kind in links.KINDS:
        if links.has_file(connector, kind):
            link = links.sign(ctx.keyring, connector, kind, user_id=ctx.actor.user_id, environment_id=environment.id)
            query = urlencode({"revision": link.revision, "expires": link.expires, "kv": link.key_version,
                               "user": link.user_id, "env": link.environment_id, "signature": link.signature})
            out[kind] = f"{_base(request)}{translate.PREFIX}/apis/{connector.id}/files/{kind}?{query}"
    return out


def _registration(request: Request, ctx: Context, session, connector: Connector, environment) -> schemas.RegistrationOut:
    emails = directory.emails_of(session=session, user_ids=[connector.owner_id])
    home = environment if connector.environment_id == environment.id else None
    return schemas.RegistrationOut(**translate.registration(
        connector, environment=home, links=_links(request, ctx, connector, environment), owner_email=emails.get(connector.owner_id),
    ))


@router.post(
    "/objectIds/{oid}/validateApiSwagger", response_model=str, openapi_extra=heavy.HEAVY,
    responses={200: {"description": "The findings, one a line (empty: none); errors answer 422 with the findings"}},
)
def validate_api_swagger(
    oid: ObjectId,
    definition: dict = Body(description="The API definition (apiDefinition.swagger.json)"),
    enable_certification_rules: bool = Query(False, alias="enableConnectorCertificationRules"),
    api_version: ApiVersion = None,
    ctx: Context = Depends(heavy_context),
):
    """Validate a definition (paconn validate; paconn create and update call it first):
    the structural checks of create, and the certification rules with
    ``enableConnectorCertificationRules=true``. Errors answer 422 with every finding."""
    _own_object_id(ctx, oid)  # heavy_context authenticated the caller
    text = translate.text_of(definition, ctx.limits.max_file_bytes)
    service.check_sizes(service.ConnectorFiles(api_definition=text), ctx.limits)  # as create measures it
    _, _, findings = validation.validate_connector(text, None, certification=enable_certification_rules, definition_only=True)
    if validation.has_errors(findings):
        errors = [f for f in findings if f.level == "error"]
        first = errors[0]
        raise ValidationFailed(
            f"The definition has {len(errors)} error(s); first: {first.message} (at {first.pointer or '/'})",
            findings=[f.to_dict() for f in findings],
        )
    # paconn prints this string after undoing JSON escapes: keep it ASCII, escaped.
    return Response(json.dumps(translate.findings_text(findings)), media_type="application/json")


@router.post("/objectIds/{oid}/generateResourceStorage", response_model=schemas.StorageOut)
def generate_resource_storage(oid: ObjectId, body: schemas.StorageIn, api_version: ApiVersion = None, ctx: Context = Depends(context)):
    """Where paconn would upload an icon or a script. connectorhub keeps them with the
    connector instead: the address names the command that sets them (see the module)."""
    with ctx.transaction(write=False) as session:
        _own_object_id(ctx, oid)
        environments.get_or_raise(session=session, actor=ctx.actor, ref=body.environment.name)
    return schemas.StorageOut(
        sharedAccessSignature=f"https://{UPLOAD_HOST}/use-connectorhub-connector-update-icon-or-script?sv=none",
        message=UPLOAD_MESSAGE,
    )


@router.get("/apis", response_model=schemas.RegistrationList)
def list_apis(
    request: Request,
    filter_: RequiredFilter,
    top: int = Query(DEFAULT_LIMIT, alias="$top", ge=1, le=MAX_LIMIT),
    skiptoken: str | None = Query(None, alias="$skiptoken", max_length=200),
    api_version: ApiVersion = None,
    ctx: Context = Depends(context),
):
    """The connectors you may use in the environment, as API registrations."""
    ref = _environment_ref(filter_)
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=ref)
        page = service.list(session=session, actor=ctx.actor, environment=environment, limit=top, cursor=skiptoken)
        value = [_registration(request, ctx, session, c, environment) for c, _ in page.items]
    next_link = None
    if page.next_cursor:
        query = urlencode({"$filter": filter_, "$top": top, "$skiptoken": page.next_cursor})
        next_link = f"{_base(request)}{translate.PREFIX}/apis?{query}"
    return schemas.RegistrationList(value=value, nextLink=next_link)


@router.get("/apis/{api}", response_model=schemas.RegistrationOut)
def get_api(request: Request, api: ApiName, filter_: RequiredFilter, api_version: ApiVersion = None,
            ctx: Context = Depends(context)):
    """One connector as an API registration (what paconn download reads)."""
    ref = _environment_ref(filter_)
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=ref)
        files = service.download(session=session, actor=ctx.actor, environment=environment, ref=api)
        return _registration(request, ctx, session, files.connector, environment)


@router.post("/apis", response_model=schemas.RegistrationOut, status_code=status.HTTP_201_CREATED, openapi_extra=heavy.HEAVY)
@retried
def create_api(request: Request, body: schemas.RegistrationIn, filter_: EnvironmentFilter = None,
               api_version: ApiVersion = None, ctx: Context = Depends(heavy_context)):
    """Create a connector from paconn's registration (paconn create); an OAuth client
    secret in it is kept encrypted and never answered."""
    ref = _environment_ref(filter_, translate.environment_name(body.properties))
    files = translate.files_from_registration(body.properties, ctx.limits.max_file_bytes)
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=ref)
        connector = service.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, files=files, limits=ctx.limits,
        )
        return _registration(request, ctx, session, connector, environment)


@router.patch("/apis/{api}", response_model=schemas.RegistrationOut, openapi_extra=heavy.HEAVY)
@retried
def update_api(request: Request, api: ApiName, body: schemas.RegistrationIn, filter_: EnvironmentFilter = None,
               api_version: ApiVersion = None, ctx: Context = Depends(heavy_context)):
    """Replace a connector's definition and properties (paconn update): a new revision
    when they change; a stored OAuth client secret is kept unless a new one is sent."""
    ref = _environment_ref(filter_, translate.environment_name(body.properties))
    files = translate.files_from_registration(body.properties, ctx.limits.max_file_bytes)
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=ref)
        revised = service.revise(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=api, files=files, limits=ctx.limits,
        )
        return _registration(request, ctx, session, revised.connector, environment)


ID_PATTERN = "^[0-9A-Za-z_-]{1,100}$"
FILE_ANSWER = {
    200: {"description": "The file as stored", "content": {
        "application/json": {"schema": {"type": "object"}}, "image/png": {}, "text/plain": {},
    }},
    403: {"description": "The link is not valid or has expired"},
    404: {"description": "The connector, or that revision of it, is gone, or the link's user may no longer read it"},
}


@router.get("/apis/{api}/files/{kind}", response_class=Response, responses=FILE_ANSWER)
def signed_file(
    request: Request,
    api: ApiName,
    kind: str = Path(pattern="^(apiDefinition|icon|script)$"),
    revision: int = Query(ge=1, le=2_000_000_000),
    expires: int = Query(ge=0, le=2**53),
    kv: int = Query(ge=1, le=2_000_000_000),
    user: str = Query(pattern=ID_PATTERN),
    env: str = Query(pattern=ID_PATTERN),
    signature: str = Query(max_length=128),
):
    """A connector file by a link this server signed a few minutes ago (no token: the
    link is the credential, for that file of that revision only, and only while the user
    it was signed for may still read the connector)."""
    services = request.app.state.services
    data, media_type = links.open_link(
        sessions=services.sessions, keyring=services.keyring, connector_id=api, kind=kind,
        link=links.Link(revision, expires, kv, signature, user, env),
    )
    # A file, never a page: nothing in it runs even when the link is opened in a browser
    # (an icon that is no image is answered as bytes to save).
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; sandbox"}
    if media_type == links.OTHER_BYTES:
        headers["Content-Disposition"] = 'attachment; filename="icon.bin"'
    return Response(data, media_type=media_type, headers=headers)
