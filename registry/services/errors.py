"""Domain errors. Each API maps them to its own wire format in one place."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of the errors a registry operation can end in; ``detail`` is safe to show."""

    def __init__(self, message: str = "", detail: object = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)
        self.message = message or (self.__class__.__doc__ or "").strip()
        self.detail = detail


class BlobUnknown(RegistryError):
    """blob unknown to registry"""


class BlobUploadUnknown(RegistryError):
    """blob upload unknown to registry"""


class BlobUploadInvalid(RegistryError):
    """blob upload invalid"""


class RangeInvalid(RegistryError):
    """requested range is not the next chunk of the upload"""

    def __init__(self, current_size: int, message: str = "") -> None:
        super().__init__(message or "chunk does not continue the upload")
        self.current_size = current_size


class DigestInvalid(RegistryError):
    """provided digest did not match uploaded content"""


class SizeInvalid(RegistryError):
    """provided length did not match content length"""


class ManifestUnknown(RegistryError):
    """manifest unknown"""


class ManifestInvalid(RegistryError):
    """manifest invalid"""


class ManifestTooLarge(RegistryError):
    """manifest too large"""


class ManifestBlobUnknown(RegistryError):
    """manifest references a manifest or blob unknown to registry"""


class NameInvalid(RegistryError):
    """invalid repository name"""


class NameUnknown(RegistryError):
    """repository name not known to registry"""


class TagInvalid(RegistryError):
    """invalid tag"""


class Unsupported(RegistryError):
    """the operation is unsupported"""


class PaginationInvalid(RegistryError):
    """invalid pagination parameters"""


class ServiceUnavailable(RegistryError):
    """a service Berth depends on is unavailable; try again shortly"""


class JobServiceUnavailable(ServiceUnavailable):
    """the job service is unavailable"""


# What a management operation can end in, whatever the resource. A resource's own errors
# derive from these, so each API maps them once.


class InvalidRequest(RegistryError):
    """the request is invalid"""


class NotPermitted(RegistryError):
    """the operation is not permitted"""


class ResourceUnknown(RegistryError):
    """the resource does not exist"""


class ResourceExists(RegistryError):
    """the resource already exists"""


class RetryLater(Exception):
    """Raised by work that runs as a job to be run again after ``delay`` seconds (the job
    service counts it as an attempt)."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class TagExists(RegistryError):
    """the tag already exists"""


class ArtifactInUse(RegistryError):
    """the artifact is referenced by an index"""


class ConfigurationInvalid(RegistryError):
    """invalid configuration"""


class LoginThrottled(RegistryError):
    """too many failed logins; try again later"""


class BackendUnavailable(RegistryError):
    """the identity backend is unavailable"""


class TagImmutable(RegistryError):
    """the tag is immutable: it cannot be moved or deleted"""


class RuleInvalid(RegistryError):
    """invalid immutable tag rule"""


class RuleUnknown(ResourceUnknown):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"immutable tag rule {rule_id} not found")


class ScheduleInvalid(RegistryError):
    """invalid schedule"""


class LabelUnknown(ResourceUnknown):
    """label not found"""


class MemberUnknown(ResourceUnknown):
    """member not found"""


class ProjectInvalid(RegistryError):
    """invalid project"""


class ProjectExists(RegistryError):
    """project already exists"""


class ProjectNotEmpty(RegistryError):
    """the project still holds repositories"""


class QuotaExceeded(RegistryError):
    """storage quota exceeded"""


class QuotaUnknown(ResourceUnknown):
    """quota not found"""


class RepositoryUnknown(ResourceUnknown):
    """repository not found"""


class RetentionPolicyInvalid(RegistryError):
    """invalid retention policy"""


class RuleConflict(RegistryError):
    """two rules of the policy are the same"""


class PolicyExists(RegistryError):
    """the project already has a retention policy"""


class RobotUnknown(ResourceUnknown):
    """robot account not found"""


class PasswordInvalid(InvalidRequest):
    """the password needs 8 to 128 characters with upper- and lower-case letters and a digit"""


class UserUnknown(ResourceUnknown):
    """user not found"""


class GroupUnknown(ResourceUnknown):
    """group not found"""


class WebhookPolicyInvalid(RegistryError):
    """invalid webhook policy"""


class PolicyUnknown(ResourceUnknown):
    def __init__(self, policy_id: int) -> None:
        super().__init__(f"webhook policy {policy_id} not found")


class ScannerUnknown(ResourceUnknown):
    """the scanner registration does not exist"""


class ScannerInvalid(RegistryError):
    """the scanner registration is invalid"""


class ScannerUnreachable(RegistryError):
    """the scanner could not be reached or gave an error"""


class ScanUnavailable(RegistryError):
    """nothing can scan this artifact (no scanner, or not a scannable kind)"""


class PolicyViolation(RegistryError):
    """a project policy (vulnerabilities, content trust) refuses the pull"""


class ChartInvalid(RegistryError):
    """the chart is invalid"""


class ChartExists(RegistryError):
    """file already exists"""


class ChartUnknown(ResourceUnknown):
    """chart not found"""


class ChartTooLarge(ChartInvalid):
    """the upload is larger than the limit"""


class SystemReadOnly(NotPermitted):
    """The configuration's ``read_only`` is on: nothing may be changed."""
