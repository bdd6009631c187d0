"""Buyer personas and the content blocks written for them (the waterhole strategy, PRODUCT.md §4)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from content.hourglass import Phase


class Persona(models.Model):
    """A wished-for customer type: whom we write content for, and which pains it must answer."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    pains = models.TextField(_("pains"), blank=True, max_length=4000, help_text=_("One per line."))
    goals = models.TextField(_("goals"), blank=True, max_length=4000, help_text=_("One per line."))
    roles = models.CharField(_("typical roles"), max_length=300, blank=True, help_text=_("Comma-separated."))
    industries = models.CharField(
        _("typical industries"), max_length=300, blank=True, help_text=_("Comma-separated.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("persona")
        verbose_name_plural = _("personas")

    def __str__(self):
        return self.name


class ContentBlock(models.Model):
    """A piece of content (article, video, checklist …) for a persona and an hourglass phase. Events
    whose ``properties.content_id`` is this block's id count towards it."""

    class Format(models.TextChoices):
        ARTICLE = "article", _("Article / blog post")
        VIDEO = "video", _("Video")
        PODCAST = "podcast", _("Podcast")
        WHITEPAPER = "whitepaper", _("Whitepaper / guide")
        CHECKLIST = "checklist", _("Checklist")
        CASE_STUDY = "case_study", _("Case study")
        WEBINAR = "webinar", _("Webinar")
        TOOL = "tool", _("Tool / calculator")
        OTHER = "other", _("Other")

    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("address"), max_length=500, blank=True)
    format = models.CharField(_("format"), max_length=20, choices=Format.choices, default=Format.ARTICLE)
    topics = models.JSONField(_("topics"), default=list, blank=True)
    persona = models.ForeignKey(
        Persona,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content",
        verbose_name=_("persona"),
    )
    phase = models.CharField(_("hourglass phase"), max_length=20, choices=Phase.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["phase", "title"]
        verbose_name = _("content block")
        verbose_name_plural = _("content blocks")
        indexes = [models.Index(fields=["phase", "persona"], name="content_phase_persona_idx")]

    def __str__(self):
        return self.title
