"""The plan's refusals: domain errors answered 402 Payment Required by the one handler
(`apps.core.api.exception_handler`), each with a code a client can act on."""

from apps.core.errors import DomainError


class PaymentRequired(DomainError):
    """What the tenant asks for is outside what its subscription pays for (402)."""

    status_code = 402
    code = "payment_required"

    def as_dict(self) -> dict[str, object]:
        return {"detail": self.message, "code": self.code}


class ModuleNotInPlan(PaymentRequired):
    code = "module_not_in_plan"

    def __init__(self, module: str, module_name: str, plan_name: str) -> None:
        super().__init__(f"{module_name} is not in your plan ({plan_name}).")
        self.module = module

    def as_dict(self) -> dict[str, object]:
        return {"detail": self.message, "module": self.module}


class PlanLimitReached(PaymentRequired):
    code = "plan_limit"

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit

    def as_dict(self) -> dict[str, object]:
        return {"detail": self.message, "code": self.code, "limit": self.limit}


class SubscriptionSuspended(PaymentRequired):
    code = "subscription_suspended"
