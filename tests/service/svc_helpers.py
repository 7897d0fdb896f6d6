"""Helpers shared by the service tests (imported as ``svc_helpers``)."""

from __future__ import annotations

import os
import socket

import pytest

ROLES = ("inspector", "job_centre", "scanner", "admin")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def need(what: str, why: str) -> None:
    """Skip for a missing part on a laptop; under CI the part must be there."""
    msg = f"{what} is missing: {why}"
    if in_ci():
        pytest.fail(msg + " (CI=true: this test may not skip)", pytrace=False)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def settings_for(url: str, **kw):
    from service.settings import Settings

    return Settings(database_url=url, migrate_on_startup=False, **kw)


def posting(i: int | str, text: str | None = None, source: str = "scanner-a", **kw) -> dict:
    return {"external_id": str(i), "source": source, "text": text or RISKY, **kw}


RISKY = "🔥 Tuyển gấp 20 bạn nữ sang Campuchia làm CSKH online, việc nhẹ lương cao 25tr/tháng, bao vé máy bay. Xuất cảnh ngay trong tuần. Ib zalo 0912.345.678"
FEE = "Đơn hàng đi Nhật 3 năm, lương 28 triệu/tháng. Chi phí trọn gói 160 triệu, đặt cọc trước 20 triệu giữ slot, chuyển khoản vào tài khoản cá nhân chị Hoa."
BENIGN = "Tuyển công nhân may tại KCN Tân Uyên, Bình Dương. Không cần kinh nghiệm, được đào tạo. Lương 8-10 triệu/tháng. Liên hệ phòng nhân sự: 0274 3812 345."
