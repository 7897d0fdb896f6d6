from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from ..db import storage
from ..deps import AdminUser, CurrentUser, SessionDep
from ..schemas import AUTH_ERRORS, NOT_FOUND, Problem, UserCreated, UserIn, UserPublic

router = APIRouter(prefix="/v1", tags=["users"], responses=AUTH_ERRORS)


@router.get("/me", response_model=UserPublic, summary="Who the key belongs to (any role)")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/users", response_model=list[UserPublic], summary="Users (admin)")
def list_users(session: SessionDep, user: AdminUser) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in storage.list_users(session)]


@router.post("/users", response_model=UserCreated, responses={409: {"model": Problem, "description": "a user of that name exists"}}, summary="Create a user; its key is shown once (admin)")
def create_user(body: UserIn, session: SessionDep, user: AdminUser) -> dict:
    try:
        u, key = storage.create_user(session, body.name, body.role)
    except storage.DuplicateUser as exc:
        raise HTTPException(409, str(exc)) from None
    return {**UserPublic.model_validate(u).model_dump(), "key": key}


@router.post("/users/{name}/rotate", response_model=UserCreated, responses=NOT_FOUND, summary="A new key for a user; the old one stops working (admin)")
def rotate(name: str, request: Request, session: SessionDep, user: AdminUser) -> dict:
    try:
        u, key = storage.rotate_key(session, name)
    except storage.UnknownUser as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.auth_cache.clear()
    return {**UserPublic.model_validate(u).model_dump(), "key": key}


@router.post("/users/{name}/disable", response_model=UserPublic, responses=NOT_FOUND, summary="Disable a user's key (admin)")
def disable(name: str, request: Request, session: SessionDep, user: AdminUser) -> UserPublic:
    try:
        u = storage.set_active(session, name, False)
    except storage.UnknownUser as exc:
        raise HTTPException(404, str(exc)) from None
    request.app.state.auth_cache.clear()
    return UserPublic.model_validate(u)
