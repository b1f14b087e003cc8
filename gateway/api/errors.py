"""Every API error names the field and the rule, in Vietnamese, as JSON:
``{"errors": [{"field": "title", "rule": "string_too_short", "message": "..."}]}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.bulletins.errors import WorkflowError

_MESSAGES = {
    "missing": "bắt buộc phải có",
    "string_too_short": "quá ngắn (tối thiểu {min_length} ký tự)",
    "string_too_long": "quá dài (tối đa {max_length} ký tự)",
    "string_type": "phải là chuỗi ký tự",
    "int_parsing": "phải là số nguyên",
    "int_type": "phải là số nguyên",
    "bool_type": "phải là true hoặc false",
    "literal_error": "phải là một trong: {expected}",
    "enum": "phải là một trong: {expected}",
    "datetime_parsing": "phải là thời điểm dạng ISO 8601, ví dụ 2026-11-23T06:00:00+07:00",
    "datetime_type": "phải là thời điểm dạng ISO 8601",
    "timezone_aware": "phải kèm múi giờ, ví dụ +07:00",
    "value_error": "{msg}",
    "list_type": "phải là danh sách",
    "dict_type": "phải là đối tượng JSON",
    "json_invalid": "JSON không hợp lệ",
    "model_attributes_type": "phải là đối tượng JSON",
    "too_long": "quá nhiều phần tử (tối đa {max_length})",
}


def error(field: str, rule: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"errors": [{"field": field, "rule": rule, "message": message}]}, status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or "body"


async def validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # registered for this type only
    errors = []
    for item in exc.errors():
        rule = str(item.get("type", "invalid"))
        ctx = {k: v for k, v in dict(item.get("ctx") or {}).items()}
        ctx.setdefault("msg", str(item.get("msg", "")).removeprefix("Value error, "))
        template = _MESSAGES.get(rule, "giá trị không hợp lệ")
        try:
            message = template.format(**ctx)
        except (KeyError, IndexError):
            message = template
        field = _field(tuple(item.get("loc", ())))
        errors.append({"field": field, "rule": rule, "message": f"{field}: {message}"})
    return JSONResponse({"errors": errors}, status_code=422)


async def workflow_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowError)  # registered for this type only
    return error(exc.field, exc.rule, f"{exc.field}: {exc.message}", exc.status)
