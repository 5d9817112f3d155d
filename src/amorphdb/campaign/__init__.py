"""Campaigns: spec files, running, submission, status, reruns."""

from amorphdb.campaign.spec import CampaignSpec, PseudoBinary, campaign_from_dict, load_campaign

__all__ = ["CampaignSpec", "PseudoBinary", "campaign_from_dict", "load_campaign"]
