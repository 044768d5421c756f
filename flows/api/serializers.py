"""Shapes of the ``/flows`` API (the original's ``flow-interfaces.ts``): the one declaration of each
answer; drf-spectacular reads the OpenAPI document from them."""

from __future__ import annotations

from rest_framework import serializers

from config.serializers import StrictCharField


class FlowChildSerializer(serializers.Serializer):
    """A child node ``{name, queueName?, data?, opts?, children?}`` (FlowJobData); ``queue`` and
    ``options`` are accepted as other spellings of ``queueName`` and ``opts``."""

    name = StrictCharField()
    queueName = StrictCharField(required=False)  # noqa: N815 (the original's key)
    data = serializers.JSONField(required=False)
    opts = serializers.DictField(
        required=False,
        help_text="Job options, plus failParentOnFailure / ignoreDependencyOnFailure (BullMQ).",
    )
    children = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Nodes of the same shape, nested."
    )

    class Meta:
        ref_name = "FlowChild"


class FlowCreateSerializer(FlowChildSerializer):
    """``POST /flows`` (CreateFlowRequest): the root node plus ``flowname``."""

    flowname = StrictCharField(required=False, help_text="Defaults to the root's name.")

    class Meta:
        ref_name = "FlowCreate"


class FlowProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    percentage = serializers.IntegerField()

    class Meta:
        ref_name = "FlowProgress"


class FlowSerializer(serializers.Serializer):
    """FlowResponse: ``{flowId, flowname, name, queueName, status, progress, result, error, createdAt,
    updatedAt, startedAt, completedAt}`` (instants ISO 8601 UTC)."""

    flowId = serializers.CharField()  # noqa: N815
    flowname = serializers.CharField()
    name = serializers.CharField()
    queueName = serializers.CharField()  # noqa: N815
    status = serializers.ChoiceField(choices=["pending", "running", "completed", "failed", "cancelled"])
    progress = FlowProgressSerializer()
    result = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    createdAt = serializers.CharField()  # noqa: N815
    updatedAt = serializers.CharField()  # noqa: N815
    startedAt = serializers.CharField(allow_null=True)  # noqa: N815
    completedAt = serializers.CharField(allow_null=True)  # noqa: N815

    class Meta:
        ref_name = "Flow"


class FlowCreatedSerializer(serializers.Serializer):
    """``{flowId, message: "Flow created successfully", flow}``."""

    flowId = serializers.CharField()  # noqa: N815
    message = serializers.CharField()
    flow = FlowSerializer()

    class Meta:
        ref_name = "FlowCreated"


class FlowTreeSerializer(serializers.Serializer):
    """The flow as its create request, each node with its job: ``{flowId, flowname, name, queueName,
    data, opts, jobId, id, state, progress, result, failedReason, pendingChildren, children}``."""

    flowId = serializers.CharField()  # noqa: N815
    flowname = serializers.CharField()
    name = serializers.CharField()
    queueName = serializers.CharField()  # noqa: N815
    data = serializers.JSONField(allow_null=True)
    opts = serializers.JSONField()
    jobId = serializers.CharField(required=False)  # noqa: N815
    id = serializers.IntegerField(required=False)
    state = serializers.CharField(required=False)
    progress = serializers.JSONField(required=False)
    result = serializers.JSONField(required=False, allow_null=True)
    failedReason = serializers.CharField(required=False, allow_null=True)  # noqa: N815
    pendingChildren = serializers.IntegerField(required=False)  # noqa: N815
    children = serializers.ListField(child=serializers.JSONField(), help_text="Nodes of the same shape.")

    class Meta:
        ref_name = "FlowTree"


class FlowDeletionDetailSerializer(serializers.Serializer):
    jobId = serializers.CharField()  # noqa: N815
    queueName = serializers.CharField()  # noqa: N815
    status = serializers.ChoiceField(choices=["success", "failed", "not_found"])

    class Meta:
        ref_name = "FlowDeletionDetail"


class FlowDeletionSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    successful = serializers.IntegerField()
    failed = serializers.ListField(child=serializers.CharField())
    details = FlowDeletionDetailSerializer(many=True)

    class Meta:
        ref_name = "FlowDeletion"


class FlowDeletedSerializer(serializers.Serializer):
    """``{message, flowId, deletedJobs: {total, successful, failed, details}}``."""

    message = serializers.CharField()
    flowId = serializers.CharField()  # noqa: N815
    deletedJobs = FlowDeletionSerializer()  # noqa: N815

    class Meta:
        ref_name = "FlowDeleted"


class FlowUpdateSerializer(serializers.Serializer):
    """FlowUpdateRequest ``{status?, result?, error?, progress?, startedAt?, jobName?, queueName?}``:
    only ``progress`` of an active job is applied; the rest is accepted and ignored (docs/flows.md)."""

    status = StrictCharField(required=False)
    result = serializers.JSONField(required=False)
    error = serializers.JSONField(required=False)
    progress = serializers.JSONField(required=False, help_text="A number 0-100 or a JSON object.")
    startedAt = StrictCharField(required=False)  # noqa: N815
    jobName = StrictCharField(required=False)  # noqa: N815
    queueName = StrictCharField(required=False)  # noqa: N815

    class Meta:
        ref_name = "FlowUpdate"
