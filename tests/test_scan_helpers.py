"""Postings for the scan and Spark tests, written for these tests (no real posting is copied).
``postings(n)`` varies a few templates by job, place, pay and contact so that most texts
differ, as on a job board."""

import json
import random

ORDINARY = [
    "Công ty {firm} tuyển {job} làm việc tại {city}. Lương {pay} triệu/tháng, đóng BHXH đầy đủ, "
    "thưởng tháng 13. Yêu cầu tốt nghiệp trung cấp trở lên, chăm chỉ, trung thực. Nộp hồ sơ trực tiếp "
    "tại phòng nhân sự hoặc gửi CV qua email tuyendung{n}@{dom}.vn. Không thu bất kỳ khoản phí nào.",
    "{firm} cần tuyển {job}, ca hành chính từ thứ Hai đến thứ Sáu tại {city}. Thu nhập {pay} triệu, "
    "có hợp đồng lao động chính thức, được đào tạo khi mới vào làm. Liên hệ chị Lan {phone} trong giờ hành chính.",
    "We are hiring a {jobEn} for our office in {cityEn}. Salary {pay} million VND per month, social "
    "insurance, 12 days of annual leave and a signed labour contract. Send your CV to hr{n}@{dom}.com.",
]
RISKY = [
    "Tuyển gấp {job} sang Campuchia làm việc, việc nhẹ lương cao {payUsd} USD/tháng, bao vé máy bay và "
    "ăn ở, không cần kinh nghiệm, không cần bằng cấp. Inbox Zalo {phone} để được hỗ trợ đi ngay trong tuần.",
    "Đơn hàng đi Nhật {job}, đặt cọc trước {fee} triệu để giữ slot, nộp hộ chiếu cho công ty giữ. "
    "Bay nhanh trong 1 tháng, lương {payUsd} USD. Gọi ngay {phone}.",
]
JOBS = [("nhân viên kế toán", "accountant"), ("công nhân may", "garment worker"), ("nhân viên bán hàng", "sales assistant"),
        ("lái xe tải", "truck driver"), ("nhân viên kho", "warehouse clerk"), ("phụ bếp", "kitchen assistant")]
CITIES = [("Hà Nội", "Hanoi"), ("Đà Nẵng", "Da Nang"), ("Bình Dương", "Binh Duong"), ("Cần Thơ", "Can Tho")]
FIRMS = ["TNHH Minh Phát", "CP Sao Mai", "TNHH Hòa Bình Xanh", "CP Đại Dương"]


def posting(i: int, rng: random.Random, risky_share: float = 0.2) -> dict:
    job, job_en = rng.choice(JOBS)
    city, city_en = rng.choice(CITIES)
    tpl = rng.choice(RISKY if rng.random() < risky_share else ORDINARY)
    text = tpl.format(
        firm=rng.choice(FIRMS), job=job, jobEn=job_en, city=city, cityEn=city_en, pay=rng.randint(7, 25),
        payUsd=rng.choice([1500, 2000, 2500]), fee=rng.choice([30, 50, 80]), n=rng.randint(1, 99),
        dom=rng.choice(["minhphat", "saomai", "daiduong"]), phone=f"09{rng.randint(10_000_000, 99_999_999)}",
    )
    return {"id": f"t{i}", "title": job.capitalize(), "company": "Công ty " + rng.choice(FIRMS), "text": text, "source": "testboard"}


def postings(n: int, seed: int = 7, risky_share: float = 0.2) -> list[dict]:
    rng = random.Random(seed)
    return [posting(i, rng, risky_share) for i in range(n)]


def write_jsonl(path, records) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
