"""The practice service's boundary schemas: the contract's shapes, re-exported for the service."""
from nszm.contracts.practice import (  # noqa: F401
    CompetitionInputSchema,
    CompetitionPageSchema,
    CompetitionQuerySchema,
    CompetitionSchema,
    ConfirmationResultSchema,
    PracticeDetailPageSchema,
    PracticeDetailQuerySchema,
    PracticeDetailSchema,
    PracticeInputSchema,
    PracticePageSchema,
    PracticeQuerySchema,
    PracticeSchema,
    PracticeUpdateSchema,
    ThemeSchema,
    VoteInputSchema,
    VoteReceiptSchema,
)
